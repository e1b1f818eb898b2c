"""Unit tests of epo_isaac.es.maths and epo_isaac.es.optimizer (OpenAI-ES, Salimans et al. 2017, arXiv:1703.03864)."""

from __future__ import annotations

import io

import pytest
import torch

from epo_isaac.cli.validate import validate
from epo_isaac.errors import UserError
from epo_isaac.es.maths import centered_ranks, es_gradient, population_noise
from epo_isaac.es.optimizer import ESConfig, OpenAIES, load_vector


def _sphere(target: torch.Tensor):
    """Fitness −‖x − target‖² of each row of a [P, D] population."""
    return lambda pop: -((pop - target) ** 2).sum(dim=1)


# ----------------------------------------------------------------------------------------------- centred ranks


def test_centered_ranks_range_mean_and_order() -> None:
    x = torch.tensor([3.0, -1.0, 10.0, 0.5, 7.0])
    r = centered_ranks(x)
    assert r.min().item() == -0.5 and r.max().item() == 0.5
    assert abs(r.sum().item()) < 1e-6
    assert torch.equal(torch.argsort(r), torch.argsort(x))
    torch.testing.assert_close(r, torch.tensor([0.0, -0.5, 0.5, -0.25, 0.25]))


def test_centered_ranks_shift_and_scale_invariant() -> None:
    x = torch.randn(37, generator=torch.Generator().manual_seed(1))
    r = centered_ranks(x)
    assert torch.equal(centered_ranks(x + 123.0), r)
    assert torch.equal(centered_ranks(x * 0.01), r)
    assert torch.equal(centered_ranks(-x), -r)


def test_centered_ranks_ties_share_the_mean_rank() -> None:
    r = centered_ranks(torch.tensor([2.0, 1.0, 2.0, 0.0]))
    torch.testing.assert_close(r, torch.tensor([1 / 3, -1 / 6, 1 / 3, -0.5]))
    assert torch.equal(centered_ranks(torch.full((6,), 4.2)), torch.zeros(6))
    assert torch.equal(centered_ranks(torch.tensor([5.0])), torch.zeros(1))


def test_es_gradient_formula() -> None:
    eps = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    g = es_gradient(eps, torch.tensor([0.5, -0.5]), sigma=0.1)
    torch.testing.assert_close(g, torch.tensor([0.5, -1.0]) / (2 * 0.1))


# ----------------------------------------------------------------------------------------------- noise


def test_antithetic_pairs() -> None:
    theta0 = torch.randn(6, generator=torch.Generator().manual_seed(0))
    es = OpenAIES(theta0, ESConfig(population_size=8, sigma=0.3), seed=5)
    pop = es.ask()
    assert pop.shape == (8, 6)
    eps = es.noise(0)
    torch.testing.assert_close(pop[0::2], theta0 + 0.3 * eps[0::2])
    torch.testing.assert_close(pop[1::2], theta0 - 0.3 * eps[0::2])
    assert torch.equal(eps[1::2], -eps[0::2])
    assert torch.equal(es.ask(), pop)  # asking twice in a generation gives the same population


def test_noise_rebuilt_from_seed_and_generation_in_a_fresh_optimiser() -> None:
    cfg = ESConfig(population_size=10, sigma=0.1)
    es = OpenAIES(torch.zeros(7), cfg, seed=3)
    asked = []
    for _ in range(3):
        pop = es.ask()
        asked.append((pop - es.theta) / es.sigma)
        es.tell(_sphere(torch.ones(7))(pop))
    fresh = OpenAIES(torch.zeros(7), cfg, seed=3)
    for generation, eps in enumerate(asked):
        torch.testing.assert_close(fresh.noise(generation), eps, rtol=0, atol=1e-5)
        assert torch.equal(fresh.noise(generation), population_noise(3, generation, 10, 7, True))
    assert not torch.equal(fresh.noise(0), fresh.noise(1))
    assert not torch.equal(OpenAIES(torch.zeros(7), cfg, seed=4).noise(0), fresh.noise(0))
    plain = population_noise(3, 0, 10, 7, antithetic=False)
    assert not torch.equal(plain[1], -plain[0])


# ----------------------------------------------------------------------------------------------- gradient


@pytest.mark.parametrize("rank_shaping", [False, True])
def test_gradient_of_linear_fitness_points_along_w(rank_shaping: bool) -> None:
    w = torch.randn(20, generator=torch.Generator().manual_seed(2))
    cfg = ESConfig(population_size=4000, sigma=0.5, rank_shaping=rank_shaping, weight_decay=0.0)
    es = OpenAIES(torch.zeros(20), cfg, seed=0)
    pop = es.ask()
    fitness = pop @ w
    shaped = centered_ranks(fitness) if rank_shaping else fitness
    g = es_gradient(es.noise(0), shaped, es.sigma)
    assert torch.nn.functional.cosine_similarity(g, w, dim=0).item() > 0.9
    if not rank_shaping:  # antithetic estimate of ∇(w·x) = w is unbiased
        assert abs(g.norm().item() / w.norm().item() - 1) < 0.1


# ----------------------------------------------------------------------------------------------- optimises


def test_maximises_negative_sphere() -> None:
    target = torch.linspace(-1.5, 1.5, 10)
    es = OpenAIES(torch.zeros(10), ESConfig(population_size=40, sigma=0.1, learning_rate=0.05, weight_decay=0.0,
                                            lr_decay=0.99, lr_min=0.002), seed=0)
    fitness = _sphere(target)
    start = (es.theta - target).norm().item()
    for _ in range(300):
        stats = es.tell(fitness(es.ask()))
    assert stats["generation"] == 299.0
    assert (es.theta - target).norm().item() < 0.01 * start


def test_trains_a_module_via_load_into() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    policy = load_vector(torch.nn.Linear(3, 1), torch.zeros(4))

    def reward(module: torch.nn.Module) -> float:
        with torch.no_grad():
            return -torch.nn.functional.mse_loss(module(x), y).item()

    es = OpenAIES(policy, ESConfig(population_size=20, sigma=0.05, learning_rate=0.03, weight_decay=0.0), seed=1)
    assert es.dim == 4
    initial_mse = -reward(policy)
    for _ in range(150):
        es.tell(torch.tensor([reward(load_vector(policy, c)) for c in es.ask()]))
    es.load_into(policy)
    assert -reward(policy) < 0.01 * initial_mse
    torch.testing.assert_close(torch.nn.utils.parameters_to_vector(policy.parameters()), es.theta)
    weight = policy.weight
    es.load_into(policy.parameters(), torch.arange(4.0))  # an iterable of parameters, any [D] vector
    assert policy.weight is weight and policy.weight.tolist() == [[0.0, 1.0, 2.0]] and policy.bias.item() == 3.0


# ----------------------------------------------------------------------------------------------- decay


def test_weight_decay_shrinks_theta_under_constant_fitness() -> None:
    """Constant fitness: ĝ = 0, and SGD shrinks θ by lr·λ/σ per generation (λ is Salimans' l2coeff, per unit of
    the σ-free gradient g = σ·ĝ)."""
    cfg = ESConfig(population_size=6, sigma=0.1, learning_rate=0.01, weight_decay=0.5, optimizer="sgd", momentum=0.0)
    theta0 = torch.tensor([1.0, -2.0, 4.0])
    es = OpenAIES(theta0, cfg)
    for _ in range(3):
        es.ask()
        es.tell(torch.full((6,), 7.0))
    torch.testing.assert_close(es.theta, theta0 * (1 - 0.01 * 0.5 / 0.1) ** 3)
    adam = OpenAIES(theta0, ESConfig(population_size=6, weight_decay=0.5))
    adam.ask()
    adam.tell(torch.zeros(6))
    assert (adam.theta.abs() < theta0.abs()).all()


def _salimans_steps(config: ESConfig, theta: torch.Tensor, fitness, seed: int, generations: int) -> torch.Tensor:
    """θ after ``generations`` steps of openai/evolution-strategies-starter (commit 951f199, es_distributed/es.py
    and optimizers.py), in float64 with our noise: g = Σ_k (r⁺_k − r⁻_k)·ε_k / returns.size on centred ranks (no
    1/σ), then ``optimizer.update(−g + l2coeff·θ)``. Adam: that file's Adam; SGD: its SGD at momentum 0 with
    stepsize learning_rate/σ (our learning_rate multiplies ĝ = g/σ, eq. 3, as α in the paper's Algorithm 1)."""
    theta = theta.double().clone()
    m, v = torch.zeros_like(theta), torch.zeros_like(theta)
    beta1, beta2 = 0.9, 0.999
    for t in range(1, generations + 1):
        eps = population_noise(seed, t - 1, config.population_size, theta.numel(), True).double()
        shaped = centered_ranks(fitness(theta + config.sigma * eps))
        pairs = shaped.view(-1, 2)
        g = (pairs[:, 0] - pairs[:, 1]) @ eps[0::2] / config.population_size
        step_grad = -g + config.weight_decay * theta
        if config.optimizer == "sgd":
            theta = theta - config.learning_rate / config.sigma * step_grad
            continue
        a = config.learning_rate * (1 - beta2**t) ** 0.5 / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * step_grad
        v = beta2 * v + (1 - beta2) * step_grad**2
        theta = theta - a * m / (v.sqrt() + 1e-8)
    return theta


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_weight_decay_step_is_salimans_l2coeff(optimizer: str) -> None:
    """weight_decay is Salimans' l2coeff at σ = 0.02: a hand-computed run of their update matches ours."""
    config = ESConfig(population_size=8, sigma=0.02, learning_rate=0.01, weight_decay=0.05, optimizer=optimizer,
                      momentum=0.0)
    theta0 = torch.tensor([3.0, -2.0, 1.5, -0.5])
    fitness = _sphere(torch.tensor([0.5, 0.5, -0.5, 2.0]))
    es = OpenAIES(theta0, config, seed=5)
    for _ in range(3):
        es.tell(fitness(es.ask()))
    expected = _salimans_steps(config, theta0, fitness, seed=5, generations=3)
    torch.testing.assert_close(es.theta.double(), expected, rtol=1e-5, atol=1e-6)


def test_sigma_and_learning_rate_decay_to_their_floors() -> None:
    cfg = ESConfig(population_size=4, sigma=1.0, learning_rate=0.1, sigma_decay=0.5, sigma_min=0.2,
                   lr_decay=0.1, lr_min=0.005)
    es = OpenAIES(torch.zeros(2), cfg)
    used = []
    for _ in range(4):
        es.ask()
        stats = es.tell(torch.arange(4.0))
        used += [stats["sigma"], stats["learning_rate"]]
    assert used == pytest.approx([1.0, 0.1, 0.5, 0.01, 0.25, 0.005, 0.2, 0.005])
    assert (es.sigma, es.learning_rate) == pytest.approx((0.2, 0.005))


# ----------------------------------------------------------------------------------------------- resume


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_state_dict_resume_is_bit_identical(optimizer: str) -> None:
    cfg = ESConfig(population_size=12, sigma=0.2, learning_rate=0.05, optimizer=optimizer, sigma_decay=0.97,
                   lr_decay=0.98)
    fitness = _sphere(torch.arange(5.0))
    a = OpenAIES(torch.zeros(5), cfg, seed=11)
    for _ in range(4):
        a.tell(fitness(a.ask()))
    a.ask()  # a pending ask is not part of the state
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    b = OpenAIES(torch.ones(5), cfg, seed=0)
    b.load_state_dict(torch.load(buffer, weights_only=True))
    assert (b.generation, b.seed) == (4, 11)
    for _ in range(6):
        a.tell(fitness(a.ask()))
        b.tell(fitness(b.ask()))
    assert torch.equal(a.theta, b.theta)
    assert a.state_dict()["sigma"] == b.state_dict()["sigma"]
    moments_a, moments_b = a.state_dict()["optimizer"]["state"][0], b.state_dict()["optimizer"]["state"][0]
    assert moments_a.keys() == moments_b.keys()
    assert all(torch.equal(torch.as_tensor(moments_a[k]), torch.as_tensor(moments_b[k])) for k in moments_a)


def test_load_state_dict_rejects_mismatches() -> None:
    es = OpenAIES(torch.zeros(3), ESConfig(population_size=4))
    with pytest.raises(ValueError, match="theta"):
        es.load_state_dict(OpenAIES(torch.zeros(4), ESConfig(population_size=4)).state_dict())
    with pytest.raises(ValueError, match="population_size"):
        es.load_state_dict(OpenAIES(torch.zeros(3), ESConfig(population_size=6)).state_dict())


# ----------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"population_size": 7}, "population_size"),
        ({"population_size": 1, "antithetic": False}, "population_size"),
        ({"sigma": 0.0}, "sigma"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"momentum": 1.0}, "momentum"),
        ({"sigma_decay": 1.5}, "sigma_decay"),
        ({"sigma_min": 0.5}, "sigma_min"),
        ({"lr_decay": 0.0}, "lr_decay"),
        ({"lr_min": -0.1}, "lr_min"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ESConfig(**kwargs)
    with pytest.raises(UserError, match=rf"^train\.es\.{field}=") as info:
        validate(ESConfig, kwargs, prefix="train.es.")
    assert "\n" not in str(info.value)


def test_odd_population_is_fine_without_antithetic() -> None:
    es = OpenAIES(torch.zeros(2), ESConfig(population_size=5, antithetic=False))
    assert es.ask().shape == (5, 2)


def test_bad_tell_inputs() -> None:
    es = OpenAIES(torch.zeros(3), ESConfig(population_size=4))
    with pytest.raises(ValueError, match="ask"):
        es.tell(torch.zeros(4))
    es.ask()
    with pytest.raises(ValueError, match=r"fitness must have shape \[population_size\] = \[4\]"):
        es.tell(torch.zeros(5))
    with pytest.raises(ValueError, match=r"fitness must have shape"):
        es.tell(torch.zeros(4, 1))
    with pytest.raises(ValueError, match=r"at least two.*\[1, 2\]"):
        es.tell(torch.tensor([0.0, float("nan"), float("nan"), 2.0]))
    es.tell([0.0, 1.0, 2.0, 3.0])  # the failed tells kept the ask pending; plain lists work
    with pytest.raises(ValueError, match="ask"):
        es.tell(torch.zeros(4))


def test_bad_params_and_vectors() -> None:
    with pytest.raises(ValueError, match="flat"):
        OpenAIES(torch.zeros(2, 3), ESConfig())
    with pytest.raises(ValueError, match="floating"):
        OpenAIES(torch.zeros(3, dtype=torch.long), ESConfig())
    with pytest.raises(ValueError, match="no parameters"):
        OpenAIES(torch.nn.ReLU(), ESConfig())
    with pytest.raises(ValueError, match="seed"):
        OpenAIES(torch.zeros(3), ESConfig(), seed=-1)
    with pytest.raises(ValueError, match=r"\[4\]"):
        load_vector(torch.nn.Linear(3, 1), torch.zeros(5))


def test_nonfinite_fitness_excludes_the_pair_and_names_it() -> None:
    """A NaN member is named in a warning and left out with its mirror; the step equals a tell on the rest."""
    config = ESConfig(population_size=6, sigma=0.1, optimizer="sgd", momentum=0.0, weight_decay=0.0)
    es = OpenAIES(torch.zeros(3), config, seed=3)
    eps = es.noise(0)
    es.ask()
    with pytest.warns(UserWarning, match=r"indices \[3\]; excluded .* mirrored partners"):
        stats = es.tell(torch.tensor([1.0, 2.0, 0.5, float("nan"), 3.0, -1.0]))
    assert stats["excluded"] == 2.0
    kept = torch.tensor([0, 1, 4, 5])
    shaped = centered_ranks(torch.tensor([1.0, 2.0, 3.0, -1.0], dtype=torch.float64))
    expected = config.learning_rate * es_gradient(eps[kept].double(), shaped, 0.1)
    torch.testing.assert_close(es.theta.double(), expected, rtol=1e-5, atol=1e-7)
