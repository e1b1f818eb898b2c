"""The two-arm obstacles are in the physics (spec §13; issue 25: the golden random-action rollouts never touch
them, so a scene without them passed every test).

The object is dropped, at rest, from above each obstacle's top face (the hole's lower box, the partition board,
the barrier wall, all centred on the plane between the arms) and the same drop is repeated in the plain two-arm
scene. After 0.2 s the object rests on the obstacle; without it, it is still falling towards the table (free fall
from these heights takes 0.27–0.5 s)."""

from __future__ import annotations

import pytest

import tasks
from tasks.allegro_kuka.scene import OBJECT_BASE_SIZE
from tests.allegro_kuka import golden

PLAIN = "AllegroKukaTwoArmsReorientation"
DROP_S = 0.2
DROPS = golden.DROPS  # task -> (drop point, m: above the obstacle's top face; the top face's height, m)


def _drop(name: str, pos: tuple[float, float, float]) -> tuple[float, float]:
    """Object height (m) after ``DROP_S`` seconds of a drop from ``pos`` in env 0 of task ``name``, and the
    object's half-height (m)."""
    task = tasks.make(name, num_envs=1, seed=0, sim={"backend": "mujoco", "num_threads": 1})
    task.reset()
    golden.drop_object(task, pos)
    for _ in range(round(DROP_S / task.control_dt)):
        task.sim.step()  # physics only: the arms hold their reset pose, no task logic or episode reset
    half = float(task.object_scales[0, 2]) * OBJECT_BASE_SIZE / 2
    return float(task.sim.body_pos[0, task.object_body, 2]), half


@pytest.mark.parametrize("name", sorted(DROPS))
def test_an_object_dropped_on_the_obstacle_rests_on_it(name: str) -> None:
    pos, top = DROPS[name]
    z, half = _drop(name, pos)
    plain, _ = _drop(PLAIN, pos)
    assert abs(z - (top + half)) < 0.02, f"{name}: object at z {z:.3f} m, not on the top face ({top + half:.3f} m)"
    assert plain < top - 0.05, f"{PLAIN}: object at z {plain:.3f} m after {DROP_S} s: no free fall"
