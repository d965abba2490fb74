"""Demo data of cameras: two cameras showing the rendered demo scenes, each with the
scene's no-entry area as a fence region. A ``DEMO_HOOKS`` hook of the ``demo`` command:
run on every start, it brings the rows up to date and never duplicates them.
"""

from __future__ import annotations

from .models import Camera, Region, RegionKind, Site, SourceKind
from .sources.demo import SCENES

DEMO_CAMERAS = [
    # camera name, scene, sampling interval (s)
    ("Site gate · 工地大门", "site-gate", 2.0),
    ("Scaffold · 脚手架", "scaffold", 2.0),
]
FENCE_NAME = "No-entry area · 禁入区"


def add_demo_cameras(site: Site, stdout, **_options) -> None:
    for name, scene_name, interval in DEMO_CAMERAS:
        scene = SCENES[scene_name]
        width, height = scene.size
        camera, created = Camera.objects.get_or_create(
            site=site,
            name=name,
            defaults={
                "source_kind": SourceKind.DEMO,
                "source_url": scene.url,
                "sample_interval": interval,
                "width": width,
                "height": height,
            },
        )
        if not created and (camera.source_kind, camera.source_url) != (
            SourceKind.DEMO,
            scene.url,
        ):
            camera.source_kind, camera.source_url = SourceKind.DEMO, scene.url
            camera.save(update_fields=["source_kind", "source_url", "updated_at"])
        Region.objects.update_or_create(
            camera=camera,
            name=FENCE_NAME,
            defaults={
                "kind": RegionKind.FENCE,
                "points": [[round(x), round(y)] for x, y in scene.fence],
                "frame_width": width,
                "frame_height": height,
            },
        )
        stdout.write(f"Demo camera {'added' if created else 'ready'}: {name} ({scene.url})\n")
