"""``fute map``: the projection (PCA by SVD), the map of a registry, PNG and self-contained HTML."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fute.cli import main
from fute.map_render import draw_png, legend_entries, map_svg, nice_ticks, tick_label, write_html, write_png
from query.taskmap import MapPoint, TaskMap, build_map, check_color, pca_2d, project
from registry.api import Registry
from registry.errors import ConfigError, InvalidDataError
from tests.web.conftest import HOSTILE


def test_pca_matches_numpy_covariance_eigenvectors() -> None:
    rng = np.random.default_rng(1)
    mat = rng.normal(size=(40, 6)) * np.array([5.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    coords, explained = pca_2d(mat)
    centred = mat - mat.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    top = vectors[:, ::-1][:, :2]
    for axis in range(2):  # same axes as the covariance eigenvectors, up to sign
        ref = centred @ top[:, axis]
        assert abs(abs(np.corrcoef(ref, coords[:, axis])[0, 1]) - 1) < 1e-9
    assert explained == pytest.approx(list(values[::-1][:2] / values.sum()), abs=1e-4)
    assert explained[0] > explained[1] > 0


def test_pca_is_deterministic_and_handles_tiny_inputs() -> None:
    mat = np.random.default_rng(2).normal(size=(10, 5))
    assert np.array_equal(pca_2d(mat)[0], pca_2d(mat.copy())[0])
    one, explained = pca_2d(np.ones((1, 5)))
    assert one.shape == (1, 2) and np.all(one == 0) and explained == [0.0]
    assert project(mat[:3], "tsne")[0].shape == (3, 2)  # too few points for t-SNE: PCA


def test_bad_method_color_and_missing_packages() -> None:
    with pytest.raises(InvalidDataError, match="choose one of pca"):
        project(np.zeros((5, 2)), "mds")
    with pytest.raises(InvalidDataError, match="tag:KEY"):
        check_color("family")
    check_color("tag:family")
    for method, package, module in (("umap", "umap-learn", "umap"), ("tsne", "scikit-learn", "sklearn")):
        if importlib.util.find_spec(module) is None:
            with pytest.raises(ConfigError, match=f"pip install {package}"):
                project(np.random.default_rng(0).normal(size=(10, 4)), method)


def test_map_separates_families_and_filters(fake_reg: Registry) -> None:
    tmap = build_map(fake_reg, "fake")
    assert len(tmap.points) == 8 and {p.kind for p in tmap.points} == {"dataset", "model", "prompt"}
    by_family: dict[str, list[np.ndarray]] = {}
    for p in tmap.points:
        by_family.setdefault(p.tags.get("family", ["none"])[0], []).append(np.array([p.x, p.y]))
    sent, topic = (np.stack(by_family[f]) for f in ("sentiment", "topic"))
    gap = np.linalg.norm(sent.mean(axis=0) - topic.mean(axis=0))
    spread = max(
        np.linalg.norm(sent - sent.mean(axis=0), axis=1).max(),
        np.linalg.norm(topic - topic.mean(axis=0), axis=1).max(),
    )
    assert gap > 3 * spread  # the two families are far apart relative to their own spread
    only = build_map(fake_reg, "fake", where=(("kind", "dataset"), ("family", "topic")))
    assert sorted(p.name for p in only.points) == ["topic-a", "topic-b", "topic-c"]
    with pytest.raises(InvalidDataError, match="relax --where"):
        build_map(fake_reg, "fake", where=(("family", "nothing"),))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_and_html_are_written_and_non_trivial(fake_reg: Registry, tmp_path: Path) -> None:
    tmap = build_map(fake_reg, "fake")
    write_png(tmap, "tag:family", tmp_path / "m.png")
    width, height = png_size(tmp_path / "m.png")
    assert width > 600 and height > 400 and (tmp_path / "m.png").stat().st_size > 20_000
    write_html(tmap, "kind", tmp_path / "m.html")
    page = (tmp_path / "m.html").read_text()
    assert page.count('class="pt') == 8 and page.count("<title>") >= 9  # page title + one per point
    assert "<circle" in page and "<rect x" in page and "<polygon" in page  # a marker per kind
    assert HOSTILE not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert not re.search(r"(src|href)=\"?https?:", page)  # nothing fetched: self-contained
    assert len(re.findall(r"<script", page)) == 1  # only the inline tooltip script


def test_svg_links_and_highlight(fake_reg: Registry) -> None:
    svg = map_svg(build_map(fake_reg, "fake"), "kind", lambda p: f"/x/{p.name}", highlight=("model", "clf"))
    assert svg.count("<a href=") == 8 and svg.count('class="pt hi"') == 1
    assert 'data-name="clf"' in svg and "/x/&lt;script&gt;" in svg


def test_cli_map(fake_reg: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = [
        "--home",
        str(fake_reg.settings.home),
        "--db",
        fake_reg.db.engine.url.render_as_string(hide_password=False),
    ]
    out = tmp_path / "map.png"
    capsys.readouterr()
    assert (
        main([*base, "map", "--out", str(out), "--where", "kind=dataset", "--color", "tag:family", "--json"])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["space"] == "fake" and len(printed["points"]) == 6 and out.stat().st_size > 10_000
    assert main([*base, "map", "--out", str(tmp_path / "m.html")]) == 0
    assert (tmp_path / "m.html").read_text().startswith("<!doctype html>")
    assert main([*base, "map", "--out", str(tmp_path / "m.jpg")]) == 2
    assert "end the file name with .png or .html" in capsys.readouterr().err
    assert main([*base, "map", "--out", str(out), "--color", "nope"]) == 2
    assert main([*base, "map", "--out", str(out), "--where", "broken"]) == 2
    assert main([*base, "map", "--out", str(tmp_path / "no" / "m.png")]) == 2


def test_default_space_is_the_one_with_most_vectors(fake_reg: Registry, tmp_path: Path) -> None:
    from query.taskmap import map_space
    from registry.api import EmbeddingItem
    from registry.settings import Settings
    from registry.spaces import SpaceConfig

    fake_reg.create_space(SpaceConfig(name="aaa-small", surrogate="fake", method="fake2", dim=4))
    fake_reg.put_embeddings("aaa-small", [EmbeddingItem(1, np.ones(4, dtype=np.float32))])
    assert map_space(fake_reg, None).name == "fake" and map_space(fake_reg, "aaa-small").name == "aaa-small"
    pinned = Registry(fake_reg.settings.model_copy(update={"default_space": "aaa-small"}))
    assert map_space(pinned, None).name == "aaa-small"
    pinned.close()
    empty = Registry(Settings.build(home=tmp_path / "empty"))
    empty.init()
    with pytest.raises(ConfigError, match="no embedding space exists yet"):
        map_space(empty, None)


def crowded_map(n: int = 24) -> TaskMap:
    """Points packed close together with long names: default label offsets collide."""
    rng = np.random.default_rng(0)
    kinds = ("dataset", "model", "prompt")
    points = [
        MapPoint(
            f"a-long-dataset-name-{i}", kinds[i % 3], float(rng.normal() * 0.1), float(rng.normal() * 0.1)
        )
        for i in range(n)
    ]
    return TaskMap("s", "pca", points, [0.5, 0.2])


def overlapping_pairs(boxes: list[Any]) -> list[tuple[int, int]]:
    """Index pairs of boxes that overlap."""
    return [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]


@pytest.mark.parametrize("source", ["crowded", "fake"])
def test_png_labels_do_not_overlap(source: str, fake_reg: Registry, tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    tmap = crowded_map() if source == "crowded" else build_map(fake_reg, "fake")
    fig = draw_png(tmap, "tag:family")
    fig.savefig(tmp_path / "m.png")  # draws: the text extents are final
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = fig.axes[0]
    labels = [t.get_window_extent(renderer) for t in ax.texts]
    assert sorted(t.get_text() for t in ax.texts) == sorted(p.name for p in tmap.points)
    assert overlapping_pairs(labels) == []
    title = ax.title.get_window_extent(renderer)
    assert not any(title.overlaps(b) for b in labels)
    area = ax.get_window_extent(renderer)
    assert all(area.x0 <= b.x0 and b.x1 <= area.x1 and area.y0 <= b.y0 and b.y1 <= area.y1 for b in labels)
    plt.close(fig)


def test_legend_lists_each_entry_once(fake_reg: Registry) -> None:
    import matplotlib.pyplot as plt

    tmap = build_map(fake_reg, "fake")
    fig = draw_png(tmap, "kind")
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
    assert texts == ["dataset", "model", "prompt"]
    svg_legend = map_svg(tmap, "kind").split('<g class="legend">')[1]
    assert re.findall(r">([^<>]+)</text>", svg_legend) == ["dataset", "model", "prompt"]
    by_family = [label for label, _, _ in legend_entries(tmap, "tag:family")]
    assert by_family == ["sentiment", "topic", "dataset", "model", "prompt"]


def test_svg_map_has_axes_and_title_clear_of_labels(fake_reg: Registry) -> None:
    tmap = build_map(fake_reg, "fake")
    svg = map_svg(tmap, "kind")
    axes = svg.split('<g class="axes">')[1].split("</g>")[0]
    ticks = [float(v) for v in re.findall(r'<text class="tick"[^>]*>(-?[0-9.]+)</text>', axes)]
    assert len(ticks) >= 6 and axes.count('<line class="tick"') == len(ticks)
    xs, ys = [p.x for p in tmap.points], [p.y for p in tmap.points]
    assert any(min(xs) <= t <= max(xs) for t in ticks) and any(min(ys) <= t <= max(ys) for t in ticks)
    assert "component 1" in axes and "component 2" in axes
    title_y = float(re.search(r'<text x="[0-9.]+" y="([0-9.]+)" font-size="14"', svg)[1])  # type: ignore[index]
    label_ys = [float(y) for y in re.findall(r'<text x="[0-9.]+" y="([0-9.]+)" font-size="11" fill', svg)]
    assert len(label_ys) == 8 and min(label_ys) - 11 > title_y + 4  # 11 px labels start below the 14 px title


def test_nice_ticks() -> None:
    assert nice_ticks(-0.23, 0.41) == pytest.approx([-0.2, 0.0, 0.2, 0.4])
    assert nice_ticks(0, 1) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert [tick_label(v, 0.2) for v in nice_ticks(-0.23, 0.41)] == ["-0.2", "0.0", "0.2", "0.4"]
    assert nice_ticks(3.0, 3.0) == pytest.approx([2.6, 2.8, 3.0, 3.2, 3.4])
