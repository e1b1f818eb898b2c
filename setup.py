"""epo_isaac: Evolutionary Policy Optimization on rl_games, with Allegro-Kuka tasks on MuJoCo."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="epo_isaac",
    version="0.1.0",
    description="Evolutionary Policy Optimization (EPO) for massively parallel RL, as an rl_games agent",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["epo_isaac", "epo_isaac.*", "tasks", "tasks.*"]),
    py_modules=["train"],
    install_requires=[
        "rl-games==1.6.5",
        "torch>=2.1",
        "hydra-core>=1.3",
        "omegaconf>=2.3",
        "pydantic>=2.6",
        "wandb>=0.17",
        "tensorboard>=2.14",
        "gymnasium[mujoco,box2d]>=1.0",
        "mujoco>=3.2",
        "imageio[ffmpeg]>=2.31",
        "matplotlib>=3.7",
        "roma>=1.5",
        "scipy>=1.10",
    ],
    extras_require={
        "test": ["pytest>=8", "ruff>=0.5"],
        "warp": ["mujoco-warp>=4.0", "warp-lang>=1.19"],  # tested: mujoco-warp 4.0.0, warp-lang 1.19
        "cluster": ["hydra-joblib-launcher", "hydra-submitit-launcher"],
        # mkdocs build --strict (the docs site); tested: mkdocs 1.6.1, mkdocs-material 9.8.2, mkdocstrings 1.0.8
        # with mkdocstrings-python 2.0.11
        "docs": ["mkdocs>=1.6.1", "mkdocs-material>=9.8.2", "mkdocstrings[python]>=1.0.8"],
        # python -m bench.mutation (mutation testing, issue 25); tested: mutmut 3.8.1
        "mutation": ["mutmut>=3.8.1"],
    },
)
