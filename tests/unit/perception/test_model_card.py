"""Golden tests of our retrained emotion models (models/retired/: emotion_v2_int8.tflite,
emotion_v3_int8, emotion_v6_int8, emotion_v7_int8, emotion_v8_int8, emotion_v10_int8,
emotion_v11_int8, emotion_v12_int8; models/: emotion_v13_int8, emotion_v14_int8: the default)
and of the pure metrics in scripts/model/eval_emotion_model.py behind their model cards."""

from __future__ import annotations

import importlib.util
import json
import platform
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from moodpi.perception.classify.emotion import EmotionClassifier
from moodpi.perception.classify.model_card import read_sidecar
from moodpi.perception.tflite import load_interpreter
from moodpi.types import EMOTIONS

REPO = Path(__file__).resolve().parents[3]
VERSIONS = ("v2", "v3", "v6", "v7", "v8", "v10", "v11", "v12", "v13", "v14")  # the default last
SHIPPED = ("v13", "v14")  # in the wheel; the others in models/retired/
RETRAINED = [
    REPO / "models" / ("" if v in SHIPPED else "retired") / f"emotion_{v}_int8.tflite"
    for v in VERSIONS
]
FACES_DIR = REPO / "tests" / "fixtures" / "faces"


def _load_eval_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "eval_emotion_model", REPO / "scripts" / "model" / "eval_emotion_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ev = _load_eval_script()


def _faces() -> tuple[list[np.ndarray], np.ndarray]:
    paths = sorted(FACES_DIR.glob("*.png"))
    faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    return faces, np.array([EMOTIONS.index(p.name.split("_")[0]) for p in paths])


@pytest.fixture(scope="module", params=RETRAINED, ids=lambda p: p.stem)
def model(request: pytest.FixtureRequest) -> Path:
    return request.param


@pytest.fixture(scope="module")
def flipped(model: Path) -> EmotionClassifier:
    return EmotionClassifier.from_file(model, flip_average=True)


def test_the_default_model_is_the_newest_retrained_one() -> None:
    from moodpi.config import from_dict

    config = from_dict({}).emotion
    assert config.model == RETRAINED[-1].name
    # the sidecar's temperature was fitted for one mode: the default must run the model in it
    assert (
        config.flip_average
        == json.loads(RETRAINED[-1].with_suffix(".json").read_text())["flip_average"]
    )


def test_model_is_full_integer_with_a_matching_sidecar(model: Path) -> None:
    interpreter = load_interpreter(model)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert all(np.dtype(t["dtype"]) != np.float32 for t in interpreter.get_tensor_details())
    sidecar = read_sidecar(model)
    assert sidecar.labels == EMOTIONS and sidecar.output == "logits"
    assert sidecar.size == inp["shape"][1] == inp["shape"][2]
    data = json.loads(model.with_suffix(".json").read_text())
    assert data["metrics"]["size_bytes"] == model.stat().st_size <= 1_000_000  # issue 28: 1 MB
    assert 0.3 < sidecar.temperature < 3.0


def test_model_recognises_most_fixture_faces(flipped: EmotionClassifier) -> None:
    faces, labels = _faces()
    probs = np.array(flipped.classify_many(faces))
    assert probs.shape == (56, 7) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # 8 faces per emotion, so this is balanced accuracy (PublicTest macro recall 0.58 / 0.62);
    # guessing gives 1/7
    assert (probs.argmax(axis=1) == labels).mean() >= 0.5


def test_mirror_image_mostly_keeps_the_emotion(model: Path) -> None:
    faces, _ = _faces()
    plain = EmotionClassifier.from_file(model)
    same = [plain.classify(f).argmax() == plain.classify(f[:, ::-1].copy()).argmax() for f in faces]
    assert np.mean(same) >= 0.75


def test_fit_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, size=(6000, 7))
    true_t = 2.0
    labels = np.array([rng.choice(7, p=p) for p in ev.softmax(logits, true_t)])
    # logits scaled by 1/true_t are calibrated; the fit must undo an over-confident 2x
    assert ev.fit_temperature(logits, None, labels) == pytest.approx(true_t, rel=0.1)


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not() -> None:
    labels = np.array([0, 0, 0, 1])
    calibrated = np.tile([0.75, 0.25], (4, 1))  # 3 of 4 right at 75 % confidence
    assert ev.ece(calibrated, labels) == pytest.approx(0.0)
    overconfident = np.tile([0.99, 0.01], (4, 1))
    assert ev.ece(overconfident, labels) == pytest.approx(0.24)


def test_classification_metrics_per_class() -> None:
    labels = np.array([0, 0, 1, 1, 2, 3, 4, 5, 6, 6])
    pred = np.array([0, 1, 1, 1, 2, 3, 4, 5, 6, 0])
    m = ev.classification_metrics(pred, labels)
    assert m["accuracy"] == 0.8
    assert m["per_class_recall"]["angry"] == 0.5 and m["per_class_recall"]["disgust"] == 1.0
    assert np.array(m["confusion"]).sum() == 10


PUBLIC_TEST = REPO.parent / "shared" / "data" / "fer2013" / "public_test.npz"

# The golden figures are each sidecar's (scripts/model/eval_emotion_model.py measures them on
# x86_64). The int8 kernels round differently on another CPU architecture: on aarch64 the same v10
# gives 10 of 300 PublicTest faces another top-1 label (Cortex-A76 and A72 under qemu, either
# NumPy, XNNPACK on or off; issue 19), and scores 0.6637 instead of 0.6606.
SIDECAR_MACHINE = "x86_64"
# Figures measured on another machine, where known: (model stem, machine) → metrics.
MEASURED_ELSEWHERE: dict[tuple[str, str], dict[str, float]] = {
    ("emotion_v10_int8", "aarch64"): {"accuracy": 0.6637, "macro_f1": 0.6376},
}
# Where the machine measured the sidecar or a figure above: the runtime reproduces it but for a few
# exact int8 ties, which the classifier breaks with the mirror image.
SAME_MACHINE = {"accuracy": 0.002, "macro_f1": 0.003}
# Elsewhere, the tolerance follows from the spread: 10 of 300 labels flip, about 120 of PublicTest's
# 3589; each flip moves the count of right answers by +1, 0 or -1 with even odds, so the accuracy
# moves by at most sqrt(120) / 3589 = 0.003 (one standard deviation): three of them, rounded up.
# Per-class F1 on the small classes (56 disgust faces) moves more: macro-F1 gets half as much again.
OTHER_MACHINE = {"accuracy": 0.01, "macro_f1": 0.015}


def golden_figures(model: Path, sidecar: dict, machine: str) -> dict[str, tuple[float, float]]:
    """metric → (expected value, tolerance) on this machine, in the mode of the sidecar."""
    suffix = "_flip" if sidecar["flip_average"] else ""
    measured = MEASURED_ELSEWHERE.get((model.stem, machine))
    if measured is not None:
        return {k: (measured[k], SAME_MACHINE[k]) for k in SAME_MACHINE}
    tolerance = (
        SAME_MACHINE if machine == sidecar.get("machine", SIDECAR_MACHINE) else OTHER_MACHINE
    )
    return {k: (sidecar["metrics"][k + suffix], tolerance[k]) for k in SAME_MACHINE}


def test_golden_figures_follow_the_machine() -> None:
    v10 = REPO / "models" / "retired" / "emotion_v10_int8.tflite"
    sidecar = json.loads(v10.with_suffix(".json").read_text())
    assert golden_figures(v10, sidecar, "x86_64")["accuracy"] == (0.6606, 0.002)
    assert golden_figures(v10, sidecar, "aarch64")["accuracy"] == (0.6637, 0.002)
    assert golden_figures(v10, sidecar, "riscv64")["accuracy"] == (0.6606, 0.01)
    # the spread measured for v10 lies inside the tolerance given to models never measured there
    arm = MEASURED_ELSEWHERE[("emotion_v10_int8", "aarch64")]
    for metric, value in arm.items():
        assert abs(value - sidecar["metrics"][metric]) < OTHER_MACHINE[metric] / 2
    # a new model (v11) with only its sidecar: its figures, the other-machine tolerance
    v11 = {"flip_average": True, "metrics": {"accuracy_flip": 0.7, "macro_f1_flip": 0.68}}
    assert golden_figures(Path("emotion_v11_int8.tflite"), v11, "aarch64") == {
        "accuracy": (0.7, 0.01),
        "macro_f1": (0.68, 0.015),
    }


@pytest.mark.slow
@pytest.mark.skipif(not PUBLIC_TEST.exists(), reason="needs ../shared/data/fer2013 beside the repo")
def test_runtime_reproduces_the_model_card_on_public_test(model: Path) -> None:
    """The shipped model, through moodpi's own classifier, scores what its sidecar claims in the
    mode the sidecar was calibrated for (flip averaging, or single faces)."""
    from moodpi.lab.evaluate import evaluate, load_dataset

    sidecar = json.loads(model.with_suffix(".json").read_text())
    flip = sidecar["flip_average"]
    report, refused = evaluate(
        EmotionClassifier.from_file(model, flip_average=flip), load_dataset(PUBLIC_TEST)
    )
    assert refused == 0 and report["n"] == 3589
    golden = golden_figures(model, sidecar, platform.machine())
    for metric, (expected, tolerance) in golden.items():
        assert report[metric] == pytest.approx(expected, abs=tolerance), (
            metric,
            platform.machine(),
        )


def test_teacher_targets_average_the_members_calibrated_probabilities(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "teacher_targets", REPO / "scripts" / "model" / "teacher_targets.py"
    )
    assert spec is not None and spec.loader is not None
    tt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tt)
    faces, labels = _faces()
    np.savez(tmp_path / "train.npz", images=np.stack(faces), labels=labels)
    out = tmp_path / "teacher.npz"
    members = ("retired/emotion_v3_int8.tflite", "retired/emotion_v2_int8.tflite")
    args = ["--data-dir", str(tmp_path), "--out", str(out)]
    assert tt.main([*args, "--model", members[0], "--model", members[1]]) == 0
    with np.load(out) as z:
        probs, saved_labels = z["probs"], z["labels"]
    assert probs.shape == (len(faces), len(EMOTIONS))
    assert np.array_equal(saved_labels, labels)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    each = []
    for name in members:
        classifier = EmotionClassifier.from_file(REPO / "models" / name, flip_average=True)
        each.append(np.stack([classifier.classify(f) for f in faces]))
    np.testing.assert_allclose(probs, np.mean(each, axis=0), atol=1e-6)
    assert (probs.argmax(1) == labels).mean() >= 0.5  # balanced fixture set; guessing: 1/7


def test_per_face_latency_with_flip_costs_about_two_invokes() -> None:
    faces, _ = _faces()
    path = RETRAINED[-1]
    single = ev.classify_latency_ms(path, np.stack(faces), False, 200)
    flip = ev.classify_latency_ms(path, np.stack(faces), True, 200)
    assert 0 < single < flip
