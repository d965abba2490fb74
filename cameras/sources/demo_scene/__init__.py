"""The demo scenes: a synthetic construction site painted on this machine.

Each scene is deterministic: its look, its workers and their paths follow from a seed,
and what it shows at a moment follows from the time ``t`` in seconds alone, so any two
processes render the same picture for the same ``t``. Workers are people-shaped figures
(head, helmet or hair, hi-vis vest over a shirt, arms, legs, boots, shading, a shadow)
sized in perspective so that a person detector working on a frame of about 800 pixels
sees them at its working scale. Some workers cross a fenced no-entry area, some wear no
helmet, one of the ``scaffold`` scene falls and lies on the ground for a while, the press
operator of the ``site-gate`` scene now and then reaches into the press's feed opening
(its ``danger`` polygon), and now and then a crowd forms.

``scene.ground_truth(t)`` says where every person is (box in pixels, helmet or not,
foot inside the fence polygon or not, fallen or not, where the hands are and whether one
is inside the danger polygon). It is computed beside the frame
for evaluating an analyzer and never given to one.

Scenes: ``get_scene("demo://site-gate")`` or ``get_scene("scaffold")``; ``SCENES``
lists them, each with its ``fence`` polygon in pixels of ``size``.

The package owns the painting; ``cameras.sources.demo`` turns a scene into a camera.
``figures`` draws a worker, ``scene`` moves the workers and renders a moment with its
ground truth, ``backgrounds`` paints the sites and ``sites`` sets up the two scenes.
"""

from .scene import Crowd, DemoScene, GroundTruth, PersonTruth, Worker
from .sites import SCENES, get_scene

__all__ = ["SCENES", "Crowd", "DemoScene", "GroundTruth", "PersonTruth", "Worker", "get_scene"]
