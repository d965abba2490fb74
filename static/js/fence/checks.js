/**
 * The fence editor's checks and geometry: why a region cannot be saved (the same checks,
 * in the same order and words, as cameras.polygons on the server), and the plane geometry
 * of hit testing. Points are [x, y] pixels of a region's frame.
 */

import { fmt, gettext } from "../common.js";

export const MIN_POINTS = 3;
export const MAX_POINTS = 100;

/** A coordinate as shown to people: at most two decimals. */
export const number = (value) => String(Math.round(value * 100) / 100);

// --------------------------------------------------------------------------- geometry

function cross(o, a, b) {
  return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
}

function withinBox(a, b, p) {
  return (
    Math.min(a[0], b[0]) <= p[0] &&
    p[0] <= Math.max(a[0], b[0]) &&
    Math.min(a[1], b[1]) <= p[1] &&
    p[1] <= Math.max(a[1], b[1])
  );
}

/** Whether the closed segments p1-p2 and q1-q2 share a point (crossing, touching, overlapping). */
export function segmentsIntersect(p1, p2, q1, q2) {
  const d1 = Math.sign(cross(q1, q2, p1));
  const d2 = Math.sign(cross(q1, q2, p2));
  const d3 = Math.sign(cross(p1, p2, q1));
  const d4 = Math.sign(cross(p1, p2, q2));
  if (d1 * d2 < 0 && d3 * d4 < 0) return true;
  return (
    (d1 === 0 && withinBox(q1, q2, p1)) ||
    (d2 === 0 && withinBox(q1, q2, p2)) ||
    (d3 === 0 && withinBox(p1, p2, q1)) ||
    (d4 === 0 && withinBox(p1, p2, q2))
  );
}

function inside(value, side, edge) {
  const last = side - 1;
  if (edge === "strict") return value > 0 && value < last;
  if (edge === "from_one") return value >= 1 && value <= last;
  return value >= 0 && value <= last;
}

/** The first point outside the allowed part of a width x height frame, as a problem. */
export function edgeProblem(points, width, height, edge = "frame") {
  for (let index = 0; index < points.length; index += 1) {
    const [x, y] = points[index];
    if (inside(x, width, edge) && inside(y, height, edge)) continue;
    const values = {
      index: index + 1,
      x: number(x),
      y: number(y),
      width,
      height,
      last_x: width - 1,
      last_y: height - 1,
    };
    let message;
    if (edge === "strict") {
      message = gettext(
        "Point %(index)s (%(x)s, %(y)s) touches or crosses the edge of the %(width)s×%(height)s picture; this region must lie strictly inside it."
      );
    } else if (edge === "from_one") {
      message = gettext(
        "Point %(index)s (%(x)s, %(y)s) is outside 1..%(last_x)s × 1..%(last_y)s: crowd counting measures the %(width)s×%(height)s picture from pixel 1."
      );
    } else {
      message = gettext(
        "Point %(index)s (%(x)s, %(y)s) is outside the %(width)s×%(height)s picture (x from 0 to %(last_x)s, y from 0 to %(last_y)s)."
      );
    }
    return { message: fmt(message, values), points: [index] };
  }
  return null;
}

function twiceArea(points) {
  let sum = 0;
  for (let i = 0; i < points.length; i += 1) {
    const a = points[i];
    const b = points[(i + 1) % points.length];
    sum += a[0] * b[1] - b[0] * a[1];
  }
  return sum;
}

/** Why the closed outline through points is not a simple polygon with an area, or null. */
export function shapeProblem(points) {
  const seen = new Map();
  for (let i = 0; i < points.length; i += 1) {
    const key = points[i][0] + "," + points[i][1];
    if (seen.has(key)) {
      return {
        message: fmt(gettext("Points %(first)s and %(second)s are the same point."), {
          first: seen.get(key) + 1,
          second: i + 1,
        }),
        points: [seen.get(key), i],
      };
    }
    seen.set(key, i);
  }
  const count = points.length;
  for (let i = 0; i < count; i += 1) {
    const a = points[i];
    const b = points[(i + 1) % count];
    const c = points[(i + 2) % count];
    const dot = (a[0] - b[0]) * (c[0] - b[0]) + (a[1] - b[1]) * (c[1] - b[1]);
    if (cross(a, b, c) === 0 && dot > 0) {
      return {
        message: fmt(gettext("The outline turns back on itself at point %(index)s."), {
          index: ((i + 1) % count) + 1,
        }),
        points: [(i + 1) % count],
      };
    }
    for (let j = i + 2; j < count; j += 1) {
      if (i === 0 && j === count - 1) continue; // the closing edge shares point 1 with edge 1
      if (segmentsIntersect(a, b, points[j], points[(j + 1) % count])) {
        return {
          message: fmt(
            gettext(
              "The outline crosses itself: the edge from point %(a)s to %(b)s meets the edge from point %(c)s to %(d)s."
            ),
            { a: i + 1, b: i + 2, c: j + 1, d: ((j + 1) % count) + 1 }
          ),
          edges: [i, j],
        };
      }
    }
  }
  if (twiceArea(points) === 0) return { message: gettext("The region has no area.") };
  return null;
}

function limitProblem(points, width, height, limits) {
  const count = points.length;
  if (count > limits.max_points) {
    if (limits.source === "ctyun_fence") {
      return {
        message: fmt(
          gettext("CTYun's electronic fence takes 3 to 9 points; this region has %(count)s."),
          { count }
        ),
      };
    }
    return {
      message: fmt(gettext("This region may have at most %(maximum)s points; it has %(count)s."), {
        maximum: limits.max_points,
        count,
      }),
    };
  }
  if (count < limits.min_points) {
    if (limits.source === "body_tracking") {
      return {
        message: fmt(
          gettext(
            "Flow tracking (body_tracking) needs an area of at least 4 points; this region has %(count)s."
          ),
          { count }
        ),
      };
    }
    return {
      message: fmt(gettext("This region needs at least %(minimum)s points; it has %(count)s."), {
        minimum: limits.min_points,
        count,
      }),
    };
  }
  return edgeProblem(points, width, height, limits.edge);
}

function countProblem(others, limits) {
  if (limits.max_regions === null || limits.max_regions === undefined) return null;
  if (others < limits.max_regions) return null;
  if (limits.source === "body_num") {
    return {
      message: fmt(
        gettext(
          "This camera already has %(count)s crowd areas, the most Baidu crowd counting (body_num) takes."
        ),
        { count: others }
      ),
    };
  }
  if (limits.source === "body_tracking") {
    return {
      message: gettext(
        "This camera already has a flow area: Baidu flow tracking (body_tracking) takes only one."
      ),
    };
  }
  return {
    message: fmt(
      gettext("This camera already has %(count)s regions of this kind, the most allowed."),
      { count: others }
    ),
  };
}

/**
 * Why region ({name, kind, points, frameWidth, frameHeight, id}) cannot be saved, or null:
 * the same checks, in the same order, as cameras.polygons on the server. otherRegions are
 * the camera's saved regions; limits maps each kind to its vendor limits.
 */
export function regionProblem(region, otherRegions, limits, { requireName = true } = {}) {
  const points = region.points;
  if (requireName && !region.name) {
    return { message: gettext("Give the region a name."), field: "name" };
  }
  if (points.length < MIN_POINTS) {
    return {
      message: fmt(gettext("A region needs at least %(minimum)s points; this one has %(count)s."), {
        minimum: MIN_POINTS,
        count: points.length,
      }),
    };
  }
  if (points.length > MAX_POINTS) {
    return {
      message: fmt(gettext("A region may have at most %(maximum)s points; this one has %(count)s."), {
        maximum: MAX_POINTS,
        count: points.length,
      }),
    };
  }
  const problem =
    edgeProblem(points, region.frameWidth, region.frameHeight) || shapeProblem(points);
  if (problem) return problem;
  const kindLimits = limitsOf(limits, region.kind);
  const limit = limitProblem(points, region.frameWidth, region.frameHeight, kindLimits);
  if (limit) return limit;
  const others = otherRegions.filter(
    (other) => other.kind === region.kind && other.id !== region.id
  ).length;
  return countProblem(others, kindLimits);
}

export function limitsOf(limits, kind) {
  const given = (limits && limits[kind]) || {};
  return {
    min_points: given.min_points ?? MIN_POINTS,
    max_points: given.max_points ?? MAX_POINTS,
    max_regions: given.max_regions ?? null,
    edge: given.edge || "frame",
    rules: given.rules || [],
    source: given.source || null,
  };
}

export function pointInPolygon(point, polygon) {
  let result = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i, i += 1) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > point[1] !== yj > point[1]) {
      const x = ((xj - xi) * (point[1] - yi)) / (yj - yi) + xi;
      if (point[0] < x) result = !result;
    }
  }
  return result;
}

export function closestOnSegment(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length = dx * dx + dy * dy;
  const along = length === 0 ? 0 : ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length;
  const t = Math.max(0, Math.min(1, along));
  return [a[0] + t * dx, a[1] + t * dy];
}

export const distance = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1]);
