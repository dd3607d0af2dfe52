"""gg.viz.explore's page in a real headless browser (Chromium, driven by selenium): it opens
from disk without console errors, its panel shows the tensors' numbers, its player follows
the engine's order, clusters fold, search finds parameters, 5,000 nodes open quickly.

Needs Chromium, chromedriver and selenium (see tests/browser.py): without them these tests
fail, naming what to install.  Screenshots go to out/test-artifacts/."""
from __future__ import annotations

import time

import browser
import numpy as np
import pytest
from browser import BrowserMissing, chrome, console_errors, screenshot
from test_viz_explore import EngineOrder, mlp_step, pytestmark, rnn_graph  # noqa: F401

import graphgrad as gg
from graphgrad.viz._graph import GraphModel


@pytest.fixture(scope="module")
def driver():
    try:
        browser = chrome()
    except BrowserMissing as err:
        pytest.fail(str(err))
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def mlp_page(tmp_path_factory):
    """The page of a recorded MLP step, with what it shows: (url, model, tensors, vertex
    ids in the engine's order)."""
    gg.manual_seed(0)
    gg.viz.RECORD.clear()
    model, (hidden, act), loss = mlp_step()
    with EngineOrder() as engine, gg.viz.record_gradients():
        loss.backward()
    path = tmp_path_factory.mktemp("explore") / "mlp.html"
    gg.viz.explore(loss, params=model, path=path)
    graph = GraphModel(loss, model)
    order = [graph.vertex_of[n].id for n in engine.nodes]
    ids = {"weight": graph.vertex_of[model[2].weight].id, "tanh": graph.vertex_of[act.grad_fn].id}
    return path.as_uri(), model, act, ids, order


def load(driver, url: str) -> float:
    """Open ``url`` and wait for the page's script to finish; seconds it took."""
    start = time.perf_counter()
    driver.get(url)
    deadline = start + 10
    while driver.execute_script("return document.body.dataset.ready") != "1":
        assert time.perf_counter() < deadline, "the page's script never finished"
        time.sleep(0.01)
    return time.perf_counter() - start


def panel_number(driver, key: str) -> float:
    return float(driver.find_element("css selector", f"#panel [data-k='{key}']")
                 .get_attribute("data-v"))


def click_node(driver, vertex: str) -> None:
    driver.find_element("css selector", f"g.node[data-id='{vertex}'] text").click()


def test_panel_shows_the_tensors_numbers_without_console_errors(driver, mlp_page):
    url, model, act, ids, _ = mlp_page
    load(driver, url)
    assert console_errors(driver) == []
    click_node(driver, ids["weight"])
    assert driver.find_element("css selector", "#panel [data-k='title']").text == "2.weight"
    w, g = model[2].weight.numpy().astype(np.float64), model[2].weight.grad.numpy()
    assert panel_number(driver, "value.mean") == pytest.approx(w.mean(), rel=1e-12)
    assert panel_number(driver, "value.max") == pytest.approx(w.max(), rel=1e-12)
    assert panel_number(driver, "grad.norm") == pytest.approx(np.linalg.norm(g), rel=1e-6)
    assert panel_number(driver, "grad.max_abs") == pytest.approx(np.abs(g).max(), rel=1e-6)
    click_node(driver, ids["tanh"])
    panel = driver.find_element("css selector", "#panel")
    assert panel.get_attribute("data-vertex") == ids["tanh"]
    assert "tanh" in panel.find_element("css selector", "[data-k='title']").text
    assert panel.find_element("css selector", "[data-k='output']").text == "(5, 6) float32"
    assert "1: Tanh" in panel.find_element("css selector", "[data-k='module']").text
    assert panel_number(driver, "value.std") == pytest.approx(act.numpy().std(), rel=1e-5)
    assert panel_number(driver, "grad.mean") == pytest.approx(act.grad.numpy().mean(), rel=1e-5)
    assert len(panel.find_elements("css selector", "svg.hist")) == 2  # value and gradient
    screenshot(driver, "explore-panel.png")
    assert console_errors(driver) == []


def test_player_steps_in_the_engines_order(driver, mlp_page):
    url, model, _, _, order = mlp_page
    load(driver, url)
    seen = []
    for _ in range(5):
        driver.find_element("id", "step").click()
        current = driver.find_elements("css selector", "g.node.current")
        assert len(current) == 1
        seen.append(current[0].get_attribute("data-id"))
        assert driver.find_element("id", "player").get_attribute("data-vertex") == seen[-1]
    assert seen == order[:5]
    assert driver.find_elements("css selector", "g.edge.flow")  # the gradient on its way
    screenshot(driver, "explore-player.png")
    driver.find_element("id", "end").click()
    done = driver.find_elements("css selector", "#done li")
    assert len(done) == len(list(model.parameters()))
    assert len(driver.find_elements("css selector", ".flow-row.done")) == len(done)
    driver.find_element("id", "reset").click()
    assert driver.find_elements("css selector", "g.node.current") == []
    assert driver.find_elements("css selector", "#done li") == []
    assert console_errors(driver) == []


def test_fold_and_unfold_a_module(driver, mlp_page):
    url, _, _, ids, _ = mlp_page
    load(driver, url)
    clusters = driver.execute_script("return explorer.data.clusters")
    i = next(k for k, c in enumerate(clusters) if c["label"] == "2: Linear")
    members = clusters[i]["vertices"]
    assert ids["weight"] in members
    label = driver.execute_script(
        "return [...document.querySelectorAll('g.cluster')].find("
        "g => g.textContent.includes('2: Linear')).querySelector('text')")
    label.click()
    for vertex in members:
        node = driver.find_element("css selector", f"g.node[data-id='{vertex}']")
        assert not node.is_displayed()
    fold = driver.find_element("css selector", f"g.fold[data-cluster='{i}']")
    assert "2: Linear" in fold.text
    screenshot(driver, "explore-folded.png")
    fold.click()
    assert driver.find_elements("css selector", "g.fold") == []
    assert driver.find_element("css selector", f"g.node[data-id='{ids['weight']}']").is_displayed()
    assert console_errors(driver) == []


def test_search_finds_a_parameter(driver, mlp_page):
    url, model, _, ids, _ = mlp_page
    load(driver, url)
    box = driver.find_element("id", "search")
    box.send_keys("2.weig")
    results = driver.find_elements("css selector", "#results li")
    assert [r.text.split("param")[0] for r in results] == ["2.weight"]
    assert driver.find_element("css selector", "g.node.match").get_attribute("data-id") == \
        ids["weight"]
    results[0].click()
    assert driver.find_element("css selector", "#panel [data-k='title']").text == "2.weight"
    assert driver.find_element("css selector", ".flow-row.selected").get_attribute(
        "data-vertex") == ids["weight"]
    assert console_errors(driver) == []


@pytest.mark.slow  # building the graph and the page takes a few seconds
def test_5000_node_graph_opens_and_responds_within_2_seconds(driver, tmp_path):
    cell, loss = rnn_graph()
    path = gg.viz.explore(loss, params=cell, path=tmp_path / "rnn.html").path
    seconds = load(driver, path.as_uri())
    steps = driver.execute_script("return explorer.data.steps.length")
    assert steps > 4900
    assert seconds < 2.0, f"{steps}-node page took {seconds:.2f} s to open"
    start = time.perf_counter()
    vertex = driver.execute_script("return explorer.data.steps[3][0]")
    click_node(driver, vertex)
    for _ in range(5):
        driver.find_element("id", "step").click()
    driver.find_element("id", "end").click()
    driver.find_element("id", "fold-all").click()
    driver.find_element("id", "unfold-all").click()
    responded = time.perf_counter() - start
    assert responded < 2.0, f"clicking through the {steps}-node page took {responded:.2f} s"
    screenshot(driver, "explore-rnn-5000.png")
    assert console_errors(driver) == []


def test_without_a_browser_the_tests_fail_naming_what_to_install(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(BrowserMissing, match="apt-get install -y chromium chromium-driver"):
        chrome()
