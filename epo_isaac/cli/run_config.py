"""The top-level run settings (``seed``, ``device``, ``max_epochs`` ...), validated with ``train.*`` in one pass,
and the defaults Hydra composes the command line over.

:class:`RunConfig` is the single source of every top-level and ``train.*`` default: :func:`register_defaults`
stores them in Hydra's ConfigStore as plain nodes (``run_schema``, first in ``cfg/config.yaml``'s defaults list,
and ``train/schema``, first in every ``cfg/train/*.yaml``), so each key exists, is overridable as ``key=value``
without ``+``, and the yamls hold only what differs. ``task.*`` and ``sim.*`` are validated by ``tasks``
(``train.py`` wires them); everything here runs before ``train.py`` writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator

from epo_isaac.cli.validate import SETTINGS, validate
from epo_isaac.host.config import TrainConfig

DEVICES = "auto, cpu, cuda or cuda:<index>"
SEED_MAX = 2**32 - 1
"""numpy's ``np.random.seed`` takes [0, 2**32 − 1] (torch.manual_seed takes more: [−2**63, 2**64 − 1])."""


def check_device(device: str) -> str:
    """``device`` unchanged if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:<index>``.

    Raises:
        ValueError: any other string (pydantic reports it as ``device=<value>: expected ...``).
    """
    kind, _, index = device.partition(":")
    if device in ("auto", "cpu", "cuda") or (kind == "cuda" and index.isdigit()):
        return device
    raise ValueError(f"expected {DEVICES}")


Device = Annotated[str, AfterValidator(check_device)]


class RunConfig(BaseModel):
    """The whole run: the top-level keys of ``cfg/config.yaml``, ``train`` (validated here), and ``task``/``sim``
    (plain mappings here; their own models live in ``tasks``)."""

    model_config = SETTINGS

    seed: Annotated[int, Field(ge=0, le=SEED_MAX)] = 42
    """Seeds Python's ``random``, numpy and torch, the task and the agents' generators (0 included)."""
    device: Device = "auto"
    """``auto`` (cuda:0 when a GPU is visible, else cpu), ``cpu``, ``cuda`` or ``cuda:<index>``."""
    torch_threads: Annotated[int, Field(ge=0)] = 1
    """Torch intra-op threads while the envs step (0: one per core); the simulator needs the cores."""
    update_threads: Annotated[int, Field(ge=0)] = 0
    """Torch intra-op threads during the update, when the simulator is idle (0: one per core)."""
    test: bool = False
    """true: play a checkpoint (``checkpoint=``) and film it instead of training."""
    checkpoint: str = ""
    """Path to a ``.pth``: resume training from it, or the policy to play with test=true."""
    agent: Annotated[int, Field(ge=0)] = 0
    """test=true: which agent's latent acts (0 = the master)."""
    video_steps: Annotated[int, Field(ge=1)] = 300
    """Control steps per video (test=true, and every train.video_interval epochs)."""
    experiment: str = ""
    """Run name and folder ``runs/<experiment>/<date>``; empty: ``<task>_<algo>``."""
    max_epochs: Annotated[int, Field(ge=-1)] | None = None
    """Shortcut for train.ppo.max_epochs (train=ES: train.es.max_iterations); null: theirs."""
    max_seconds: Annotated[float, Field(ge=0)] = 0.0
    """Wall-clock budget of this session in seconds, any algorithm: the run ends after the epoch that passes it;
    0: no limit."""
    multi_gpu: bool = False
    """true: one rank per ``torchrun`` process (docs/distributed.md)."""
    debug: bool = False
    """true: bad input shows its Python traceback (as HYDRA_FULL_ERROR=1 does)."""
    wandb_activate: bool = False
    """Mirror the TensorBoard logs to Weights & Biases."""
    wandb_project: str = "epo_isaac"
    """wandb project."""
    wandb_entity: str | None = None
    """wandb entity (user or team); null: wandb's default."""
    wandb_group: str | None = None
    """wandb run group."""
    wandb_mode: Literal["auto", "online", "offline", "disabled"] = "auto"
    """``auto``: online with WANDB_API_KEY set, else offline (sync later with ``wandb sync``)."""
    run_dir: str | None = None
    """The run folder when ``train.run`` is called without ``@hydra.main`` (tests, scripts: ``+run_dir=...``);
    null: Hydra's."""
    task: dict[str, Any] = {}
    """The task's settings (``cfg/task/<Task>.yaml``; checked by ``tasks``)."""
    train: TrainConfig = TrainConfig()
    """The algorithm's settings (``cfg/train/<ALGO>.yaml`` + ``cfg/task_train/<Task>.yaml``)."""
    sim: dict[str, Any] = {}
    """The simulator's settings (``cfg/sim/<backend>.yaml``; checked by ``tasks``)."""

    @model_validator(mode="before")
    @classmethod
    def _max_epochs_shortcut(cls, data: Any) -> Any:
        """``max_epochs=N`` sets train.ppo.max_epochs (train=ES: train.es.max_iterations) before validation."""
        epochs = data.get("max_epochs") if isinstance(data, Mapping) else None
        if epochs is None or not isinstance(data.get("train"), Mapping):
            return data  # a bad max_epochs is reported on its own key (validated before train)
        train = dict(data["train"])
        train["ppo"] = {**dict(train.get("ppo") or {}), "max_epochs": epochs}
        if train.get("algo") == "es":
            train["es"] = {**dict(train.get("es") or {}), "max_iterations": epochs}
        return {**data, "train": train}


HYDRA_GROUPS = ("task", "train", "sim")
"""Top-level keys that are Hydra groups (their defaults are not in ``run_schema``)."""


def parse_run_config(cfg: Mapping[str, Any]) -> RunConfig:
    """Validate the composed config (a ``DictConfig`` or a plain mapping): the top-level keys and ``train.*``.

    Raises:
        UserError: one line: an unknown key (``+max_epoch=5``) with the closest valid one, or a key whose value
            has the wrong type, lies out of its range or is not one of its choices, and what it must be.
    """
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    return validate(RunConfig, cfg)


def register_defaults() -> None:
    """Store the defaults of :class:`RunConfig` in Hydra's ConfigStore: ``run_schema`` (the top-level keys, less
    the groups and ``run_dir``) and ``train/schema`` (:class:`~epo_isaac.host.config.TrainConfig`), as plain
    nodes: pydantic validates the composed config (:func:`parse_run_config`), Hydra only composes."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="run_schema", node=RunConfig().model_dump(exclude={*HYDRA_GROUPS, "run_dir"}))
    store.store(group="train", name="schema", node=TrainConfig().model_dump())
