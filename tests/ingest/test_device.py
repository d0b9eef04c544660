"""The torch device (``FUTE_DEVICE`` / ``--device``): resolution, refusal of bad values, the CLI flag,
device-independent dropout, and that the device is not part of a space (fast tier, real MiniLM).

The CPU/GPU agreement test runs only where torch sees a CUDA GPU; elsewhere it is skipped with a reason.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

import ingest.device as device_module
from fute.cli import main
from ingest.device import cpu_drawn_dropout, module_device, resolve_device
from ingest.engine import Engine
from ingest.heads import head_for, make_batch
from ingest.methods import taskemb
from ingest.methods.table import embed, method_params
from ingest.surrogate import DEFAULT_SURROGATE, Surrogate, load_surrogate
from registry.api import Registry
from registry.errors import ConfigError
from registry.settings import Settings

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(
    not HAS_CUDA,
    reason="no CUDA GPU visible to torch on this machine; the CPU/GPU agreement check runs where one is",
)
# Cosine a GPU vector must reach against its CPU twin: float rounding only (the same seeds, the same
# dropout masks); measured on the CPU, a rounding-sized weight perturbation leaves default TaskEmb
# and TuPaTE vectors at cosine > 0.9999999.
AGREEMENT = 0.999


@pytest.fixture(autouse=True)
def _no_device_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from the default device setting, whatever the caller's shell says."""
    monkeypatch.delenv("FUTE_DEVICE", raising=False)


@pytest.fixture(scope="module")
def minilm() -> Surrogate:
    """The real packaged surrogate, on the CPU."""
    return load_surrogate(DEFAULT_SURROGATE, device="cpu")


def _examples(n: int = 32) -> list[dict[str, Any]]:
    """A small, seeded two-class sentiment set."""
    rng = random.Random(0)
    good = ["a wonderful film", "great acting and a moving story", "I loved every minute", "brilliant fun"]
    bad = ["a dull mess", "boring and far too long", "the plot makes no sense", "awful acting"]
    return [{"text": f"{rng.choice(good if i % 2 else bad)} ({i})", "label": i % 2} for i in range(n)]


def _cos(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- resolving and refusing ---------------------------------------------------------------------


def test_auto_picks_cuda_only_where_torch_sees_it() -> None:
    assert resolve_device("auto") == ("cuda" if HAS_CUDA else "cpu")
    assert resolve_device(" CPU ") == "cpu"
    assert Settings.build().device == "auto"


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU, so asking for one succeeds")
@pytest.mark.parametrize("value", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_one_clear_line(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve_device(value)
    assert str(err.value) == "no CUDA device is visible to torch; use --device cpu or auto"


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "cuda:", "mps", "", "cpu,cuda"])
def test_settings_refuse_a_bad_device_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.build(device=value)
    message = str(err.value)
    assert "is not one of auto, cpu, cuda or cuda:N" in message and "\n" not in message
    with pytest.raises(ConfigError, match="is not one of"):
        resolve_device(value)


def test_settings_normalise_and_fute_device_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.build(device=" CUDA:1 ").device == "cuda:1"  # checked here, resolved by the engine
    monkeypatch.setenv("FUTE_DEVICE", "cpu")
    assert Settings.build().device == "cpu"
    assert Settings.build(device="auto").device == "auto"  # the flag wins over the environment
    monkeypatch.setenv("FUTE_DEVICE", "gpu")
    with pytest.raises(ConfigError, match="device 'gpu' is not one of"):
        Settings.build()


def test_settings_travel_to_ray_workers_with_the_device(tmp_path: Path) -> None:
    settings = Settings.build(home=tmp_path, device="cpu")
    assert Settings.model_validate_json(settings.model_dump_json()).device == "cpu"


def test_cli_takes_device_before_or_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = str(tmp_path / "home")
    assert main(["--home", home, "--device", "cpu", "init"]) == 0
    assert main(["--home", home, "stats", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["--home", home, "--device", "bogus", "stats"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "fute: error: device 'bogus' is not one of auto, cpu, cuda or cuda:N (--device or FUTE_DEVICE)\n"
    )
    monkeypatch.setenv("FUTE_DEVICE", "gpu")
    assert main(["--home", home, "stats"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fute: error: device 'gpu'") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a CUDA GPU, so --device cuda is valid here")
def test_cli_device_cuda_without_a_gpu_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    assert main(["--home", home, "init"]) == 0
    capsys.readouterr()
    code = main(["--home", home, "--device", "cuda", "spaces", "create", "t", "--method", "textemb"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == "fute: error: no CUDA device is visible to torch; use --device cpu or auto\n"


# --- where tensors go -------------------------------------------------------------------------------


def test_surrogate_heads_and_batches_carry_the_device(minilm: Surrogate) -> None:
    assert minilm.device == torch.device("cpu") == module_device(minilm.model)
    assert load_surrogate(DEFAULT_SURROGATE, device="auto").device.type == ("cuda" if HAS_CUDA else "cpu")
    head = head_for("classification", minilm.hidden_size, 3, device="cpu")
    assert module_device(head) == torch.device("cpu") and head.out_features == 3
    batch = make_batch(minilm.tokenizer, "classification", _examples(4), 16, device="cpu")
    moved = batch.to(torch.device("cpu"))
    assert set(moved.inputs) == set(batch.inputs) and moved.targets.tolist() == [0, 1, 0, 1]
    assert all(t.device.type == "cpu" for t in [*moved.inputs.values(), moved.targets])


def test_engine_resolves_the_setting_once(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path, device="cpu"))
    assert Engine(reg).device == "cpu"
    assert Engine(reg, device="auto").device == ("cuda" if HAS_CUDA else "cpu")
    with pytest.raises(ConfigError, match="is not one of"):
        Engine(reg, device="gpu")


# --- the same dropout masks on every device ----------------------------------------------------------


def test_cpu_drawn_dropout_draws_the_native_cpu_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_module, "_EMULATE_ON_CPU", True)  # the GPU path, run on CPU tensors
    x = torch.randn(4, 10, 32)
    q, k, v = (torch.randn(2, 4, 10, 8) for _ in range(3))
    mask = torch.ones(2, 1, 10, 10, dtype=torch.bool)
    mask[..., 7:] = False
    native = _seeded(lambda: torch.nn.functional.dropout(x, 0.1, True))
    native_att = _seeded(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.1))
    with cpu_drawn_dropout():
        assert torch.nn.functional.dropout is not device_module._NATIVE_DROPOUT
        drawn = _seeded(lambda: torch.nn.functional.dropout(x, 0.1, True))
        drawn_att = _seeded(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.1))
    assert torch.equal(native, drawn)  # the very same mask, bit for bit
    assert torch.allclose(native_att, drawn_att, atol=1e-6)  # same mask; the math path rounds apart
    assert torch.nn.functional.dropout is device_module._NATIVE_DROPOUT  # restored on exit
    assert torch.nn.functional.scaled_dot_product_attention is device_module._NATIVE_SDPA


def _seeded(fn: Any) -> torch.Tensor:
    torch.manual_seed(0)
    return fn()  # type: ignore[no-any-return]


def test_a_taskemb_fine_tune_gets_the_same_masks_through_the_gpu_path(
    minilm: Surrogate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TaskEmb fine-tunes in train mode (dropout on): the path GPU tensors take must reproduce the
    CPU vector, or the device would be part of the recipe (a different dropout stream alone moved a
    default vector to cosine 0.98)."""
    params = method_params(
        "taskemb", {"train_steps": 2, "batch_size": 8, "grad_examples": 16, "grad_batch_size": 8, "dim": 512}
    )
    native = taskemb.embed(minilm, "classification", _examples(), 2, params)
    drawn: list[int] = []
    real_mask = device_module._cpu_mask

    def counted(like: torch.Tensor, keep: float) -> torch.Tensor:
        drawn.append(like.numel())
        return real_mask(like, keep)

    monkeypatch.setattr(device_module, "_EMULATE_ON_CPU", True)
    monkeypatch.setattr(device_module, "_cpu_mask", counted)
    with cpu_drawn_dropout():
        emulated = taskemb.embed(minilm, "classification", _examples(), 2, params)
    # Every dropout went through it: per step, the embeddings' and per layer 3 (attention probabilities,
    # attention output, feed-forward output).
    assert len(drawn) == 2 * (1 + 6 * 3)
    assert _cos(native, emulated) > 0.99999


# --- the device is not part of a space -------------------------------------------------------------------


def test_the_device_is_not_part_of_the_space(tmp_path: Path) -> None:
    reg = Registry(Settings.build(home=tmp_path, device="cpu"))
    reg.init()
    on_cpu = Engine(reg).create_space("t", "taskemb", overrides={"dim": 64})
    again = Engine(Registry(Settings.build(home=tmp_path, device="auto"))).create_space(
        "t", "taskemb", overrides={"dim": 64}
    )
    assert again.id == on_cpu.id and again.fingerprint == on_cpu.fingerprint
    recorded = {str(v).lower() for v in on_cpu.params.values()}
    assert "device" not in on_cpu.params and not recorded & {"cpu", "cuda", "auto"}


# --- CPU and GPU agree (runs on a CUDA machine) ------------------------------------------------------------


@needs_cuda
@pytest.mark.parametrize(
    ("method", "overrides"),
    [
        ("textemb", {"max_examples": 32}),
        (
            "taskemb",
            {"train_steps": 4, "batch_size": 8, "grad_examples": 32, "grad_batch_size": 8, "dim": 2048},
        ),
        ("tupate", {"train_steps": 4, "batch_size": 8, "prefix_len": 4}),
    ],
)
def test_cpu_and_gpu_vectors_agree(minilm: Surrogate, method: str, overrides: dict[str, Any]) -> None:
    gpu = load_surrogate(DEFAULT_SURROGATE, device="cuda")
    assert gpu.device.type == "cuda" and gpu.weights_hash == minilm.weights_hash
    params = method_params(method, overrides)
    on_cpu = embed(minilm, method, params, "classification", _examples(), 2)
    on_gpu = embed(gpu, method, params, "classification", _examples(), 2)
    assert isinstance(on_gpu, np.ndarray) and on_gpu.dtype == np.float32 and on_gpu.shape == on_cpu.shape
    assert np.isfinite(on_gpu).all()
    assert _cos(on_cpu, on_gpu) >= AGREEMENT, f"{method}: cosine {_cos(on_cpu, on_gpu):.6f} < {AGREEMENT}"
    assert gpu.device.type == "cuda"  # embedding leaves the shared surrogate where it was
