"""The two demo scenes (``site-gate`` and ``scaffold``): their workers' looks and paths,
fences and crowds, and ``get_scene`` to find one by name."""

from __future__ import annotations

import random
from collections.abc import Sequence

from .backgrounds import PRESS_OPENING, _paint_scaffold, _paint_site_gate
from .figures import (
    HAIR_COLOURS,
    HELMET_COLOURS,
    SHIRT_COLOURS,
    SKIN_COLOURS,
    TROUSER_COLOURS,
    VEST_COLOURS,
    Look,
)
from .scene import Crowd, DemoScene, Worker

# ---------------------------------------------------------------- the two scenes


def _look(rng: random.Random, helmet: bool) -> Look:
    return Look(
        helmet=rng.choice(HELMET_COLOURS) if helmet else None,
        vest=rng.choice(VEST_COLOURS),
        shirt=rng.choice(SHIRT_COLOURS),
        trousers=rng.choice(TROUSER_COLOURS),
        skin=rng.choice(SKIN_COLOURS),
        hair=rng.choice(HAIR_COLOURS),
    )


def _workers(seed: int, plans: Sequence[dict]) -> list[Worker]:
    rng = random.Random(seed)  # noqa: S311 - reproducible looks, not secrets
    workers = []
    for index, plan in enumerate(plans):
        jitter = [(x + rng.uniform(-12, 12), y + rng.uniform(-6, 6)) for x, y in plan["path"]]
        if plan.get("reaches"):  # stands at its machine: exactly where the plan says
            jitter = list(plan["path"])
        workers.append(
            Worker(
                name=plan.get("name", f"worker-{index + 1}"),
                path=tuple(jitter),
                speed=plan.get("speed", rng.uniform(70, 105)),
                start=rng.uniform(0, 200),
                look=_look(rng, plan.get("helmet", True)),
                dwell=plan.get("dwell", rng.choice([0.0, 2.0, 4.0])),
                crowd=plan.get("crowd", False),
                crowd_slot=plan.get("slot", (0.0, 0.0)),
                falls=plan.get("falls", False),
                reaches=plan.get("reaches", False),
            )
        )
    return workers


def _site_gate() -> DemoScene:
    seed = 20240611
    plans = [
        # Walks through the gate and down to the front.
        {"path": [(690, 560), (560, 700), (260, 690), (420, 585)], "crowd": True, "slot": (-95, 0)},
        # Crosses the fenced area on the right.
        {
            "path": [(700, 600), (1010, 640), (1180, 700), (900, 700)],
            "crowd": True,
            "slot": (0, 14),
        },
        # No helmet: back and forth along the front.
        {"path": [(140, 640), (640, 680)], "helmet": False, "crowd": True, "slot": (95, 4)},
        {
            "path": [(380, 575), (880, 590), (1100, 600), (560, 625)],
            "crowd": True,
            "slot": (45, -22),
        },
        {"path": [(1230, 590), (940, 575), (300, 600), (620, 610)], "helmet": False, "dwell": 5.0},
        # The press operator: stands at the press and reaches into its feed opening
        # (the scene's danger polygon) for 10 s of every minute, from t = 20 s.
        {"name": "press-operator", "path": [(200, 560), (201, 560)], "reaches": True},
    ]
    return DemoScene(
        name="site-gate",
        title="Site gate",
        seed=seed,
        fence=[(860, 560), (1240, 560), (1272, 712), (800, 712)],
        horizon=255.0,
        workers=_workers(seed, plans),
        crowd=Crowd(centre=(470, 640), period=120.0, at=50.0, duration=32.0),
        paint_background=_paint_site_gate,
        danger=PRESS_OPENING,
    )


def _scaffold() -> DemoScene:
    seed = 20240612
    plans = [
        # Walks in under the scaffolding, inside the fenced area.
        {"path": [(600, 580), (300, 630), (110, 690), (700, 700)], "crowd": True, "slot": (-90, 0)},
        {
            "path": [(1180, 600), (820, 680), (520, 620)],
            "helmet": False,
            "crowd": True,
            "slot": (90, 6),
        },
        # Falls every now and then.
        {"path": [(880, 590), (1200, 690), (980, 700)], "falls": True, "dwell": 3.0},
        {"path": [(420, 700), (1000, 640)], "crowd": True, "slot": (0, 20)},
        {
            "path": [(660, 575), (1050, 585), (760, 640)],
            "helmet": False,
            "crowd": True,
            "slot": (40, -28),
        },
    ]
    return DemoScene(
        name="scaffold",
        title="Scaffold",
        seed=seed,
        fence=[(30, 572), (470, 572), (420, 712), (8, 712)],
        horizon=245.0,
        workers=_workers(seed, plans),
        crowd=Crowd(centre=(760, 650), period=150.0, at=90.0, duration=35.0),
        paint_background=_paint_scaffold,
    )


SCENES: dict[str, DemoScene] = {scene.name: scene for scene in (_site_gate(), _scaffold())}


def get_scene(name: str) -> DemoScene:
    """The scene for ``demo://NAME`` or ``NAME``; ``KeyError`` names the known ones."""
    key = name.strip()
    if key.startswith("demo://"):
        key = key[len("demo://") :]
    key = key.strip("/")
    try:
        return SCENES[key]
    except KeyError:
        raise KeyError(f"no demo scene {name!r}; there are {', '.join(sorted(SCENES))}") from None


# ---------------------------------------------------------------- as a camera
