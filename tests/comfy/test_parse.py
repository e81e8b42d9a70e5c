"""Importing ComfyUI workflows: the real fixtures in both formats, the UI -> API
conversion, and a clear refusal for every kind of bad input."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.comfy.fixtures import (
    ALL_FIXTURES,
    CONTROLNET,
    CONTROLNET_UI,
    CUSTOM_LORA,
    CUSTOM_LORA_UI,
    FIXTURE_DIR,
    FIXTURES,
    SDXL,
    fixture_bytes,
)
from tools.comfy import (
    MAX_WORKFLOW_BYTES,
    WorkflowError,
    check_workflow_url,
    parse_workflow,
    workflow_digest,
    workflow_slug,
)


def _json(name: str) -> dict[str, Any]:
    return json.loads(fixture_bytes(name))


def _graph(api: dict[str, Any]) -> dict[str, Any]:
    """Class and inputs per node: a UI save names only the titles the user changed, while
    an API export writes every node's display name as its title."""
    return {node_id: (node["class_type"], node["inputs"]) for node_id, node in api.items()}


# --- the real fixtures -------------------------------------------------------------------


def test_fixtures_are_byte_for_byte_as_published() -> None:
    readme = (FIXTURE_DIR / "README.md").read_text()
    recorded = dict(re.findall(r"^\| `([^`]+\.json)` \|.*\| `([0-9a-f]{64})` \|$", readme, re.M))
    assert set(recorded) == set(ALL_FIXTURES)
    for name, digest in recorded.items():
        assert hashlib.sha256(fixture_bytes(name)).hexdigest() == digest, name


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses(name: str) -> None:
    workflow = parse_workflow(fixture_bytes(name), name=name)
    assert workflow.source_format == ("ui" if name.endswith(".ui.json") else "api")
    assert workflow.digest == workflow_digest(workflow.api_json())
    assert re.fullmatch(r"[a-z0-9-]{1,40}", workflow.name)
    assert parse_workflow(fixture_bytes(name).decode(), name=name) == workflow


@pytest.mark.parametrize("name", [n for n in FIXTURES if not n.endswith(".ui.json")])
def test_an_api_fixture_is_kept_as_it_is(name: str) -> None:
    assert parse_workflow(fixture_bytes(name)).api_json() == _json(name)


def test_the_sdxl_fixture_by_hand() -> None:
    workflow = parse_workflow(fixture_bytes(SDXL), name=SDXL)
    assert workflow.name == "sdxl-txt2img"
    sampler = workflow.nodes["49"]
    assert sampler.class_type == "KSampler"
    assert sampler.inputs["positive"] == ["6", 0]
    assert workflow.nodes["4"].title == "Load Checkpoint - BASE"
    canonical = json.dumps(workflow.api_json(), sort_keys=True, separators=(",", ":"))
    assert workflow.digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_the_ui_save_converts_to_its_own_api_export() -> None:
    converted = parse_workflow(fixture_bytes(CONTROLNET_UI)).api_json()
    exported = _json(CONTROLNET)
    # The project exported its API file with another seed; everything else is the same.
    assert converted["7"]["inputs"] == {"noise_seed": 526841747880726}
    converted["7"]["inputs"]["noise_seed"] = exported["7"]["inputs"]["noise_seed"]
    assert _graph(converted) == _graph(exported)


def test_the_ui_conversion_checked_by_hand() -> None:
    nodes = parse_workflow(fixture_bytes(CONTROLNET_UI)).nodes
    # PrimitiveNodes 12 (800) and 13 (1200) feed the latent's width and height.
    assert nodes["9"].inputs == {"width": 800, "height": 1200, "batch_size": 1}
    assert nodes["11"].inputs["width"] == 800
    assert {"12", "13", "27"}.isdisjoint(nodes)  # primitives and the Note are gone
    # The seed's "fixed" control word is not an input; links are [source, slot].
    assert nodes["7"].inputs == {"noise_seed": 526841747880726}
    assert nodes["4"].inputs["guider"] == ["6", 0]
    assert nodes["25"].inputs["positive"] == ["1", 0]
    # LoadImage's upload button is not sent.
    assert nodes["19"].inputs == {"image": "mushroom_depth.webp"}


def test_an_older_ui_save_with_unnamed_custom_widgets_asks_for_an_api_export() -> None:
    with pytest.raises(WorkflowError, match=r"Export \(API\)") as raised:
        parse_workflow(fixture_bytes(CUSTOM_LORA_UI))
    assert "44 (NunchakuTextEncoderLoader)" in str(raised.value)
    assert "45 (NunchakuFluxDiTLoader)" in str(raised.value)


def test_an_older_ui_save_converts_when_the_widget_names_are_given() -> None:
    exported = _json(CUSTOM_LORA)
    # The names, in order, as the API export of the same workflow lists them.
    names = {
        node["class_type"]: [k for k, v in node["inputs"].items() if not isinstance(v, list)]
        for node in exported.values()
        if node["class_type"].startswith("Nunchaku")
    }
    converted = parse_workflow(fixture_bytes(CUSTOM_LORA_UI), widget_names=names).api_json()
    assert converted["30"]["inputs"]["width"] == 1024  # from PrimitiveNode 34
    assert converted["25"]["inputs"] == {"noise_seed": 794018202952262}
    assert converted["47"]["inputs"]["lora_name"] == "diffusers-ghibsky.safetensors"
    # Apart from the seed and the LoRA files (renamed in the export), the two agree.
    for node_id, patch in {"25": "noise_seed", "46": "lora_name", "47": "lora_name"}.items():
        converted[node_id]["inputs"][patch] = exported[node_id]["inputs"][patch]
    assert _graph(converted) == _graph(exported)


# --- UI features, on small hand-made saves -------------------------------------------------


def _ui(nodes: list[dict[str, Any]], links: list[list[Any]], **extra: Any) -> str:
    return json.dumps({"nodes": nodes, "links": links, **extra})


def _node(
    node_id: int, kind: str, values: Any = None, *, inputs: Any = (), mode: int = 0
) -> dict[str, Any]:
    slots = [{"name": n, "type": t, "link": link} for n, t, link in inputs]
    node: dict[str, Any] = {"id": node_id, "type": kind, "mode": mode, "inputs": slots}
    if values is not None:
        node["widgets_values"] = values
    return node


_CKPT = _node(1, "CheckpointLoaderSimple", ["sd_xl_base_1.0.safetensors"])
_TEXT = _node(2, "CLIPTextEncode", ["a cat"], inputs=[("clip", "CLIP", 2)])
_SAMPLER = _node(
    3,
    "KSampler",
    [42, "randomize", 20, 7.5, "euler", "normal", 1],
    inputs=[("model", "MODEL", 1), ("positive", "CONDITIONING", 3)],
)


def test_an_older_ui_save_uses_the_table_of_core_widget_names() -> None:
    links = [[1, 1, 0, 3, 0, "MODEL"], [2, 1, 1, 2, 0, "CLIP"], [3, 2, 0, 3, 1, "CONDITIONING"]]
    workflow = parse_workflow(_ui([_CKPT, _TEXT, _SAMPLER], links), name="My Workflow.json")
    assert workflow.name == "my-workflow"
    assert workflow.source_format == "ui"
    assert workflow.nodes["3"].inputs == {
        "seed": 42, "steps": 20, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1, "model": ["1", 0], "positive": ["2", 0],
    }  # fmt: skip
    assert workflow.nodes["2"].inputs == {"text": "a cat", "clip": ["1", 1]}


def test_links_as_objects_are_read_too() -> None:
    links = [
        {
            "id": 1,
            "origin_id": 1,
            "origin_slot": 0,
            "target_id": 3,
            "target_slot": 0,
            "type": "MODEL",
        },
        {
            "id": 2,
            "origin_id": 1,
            "origin_slot": 1,
            "target_id": 2,
            "target_slot": 0,
            "type": "CLIP",
        },
        {
            "id": 3,
            "origin_id": 2,
            "origin_slot": 0,
            "target_id": 3,
            "target_slot": 1,
            "type": "CONDITIONING",
        },
    ]
    workflow = parse_workflow(json.dumps({"nodes": [_CKPT, _TEXT, _SAMPLER], "links": links}))
    assert workflow.nodes["3"].inputs["positive"] == ["2", 0]


def test_reroutes_are_followed_and_notes_and_muted_nodes_dropped() -> None:
    reroute = _node(9, "Reroute", inputs=[("", "*", 4)])
    note = _node(10, "Note", ["remember the milk"])
    muted = _node(11, "SaveImage", ["ComfyUI"], mode=2)
    text = _node(2, "CLIPTextEncode", ["a cat"], inputs=[("clip", "CLIP", 5)])
    links = [[4, 1, 1, 9, 0, "CLIP"], [5, 9, 0, 2, 0, "CLIP"]]
    workflow = parse_workflow(_ui([_CKPT, text, reroute, note, muted], links))
    assert set(workflow.nodes) == {"1", "2"}
    assert workflow.nodes["2"].inputs["clip"] == ["1", 1]


def test_a_primitive_node_value_is_written_into_its_targets() -> None:
    primitive = _node(7, "PrimitiveNode", [768, "fixed"])
    latent = _node(5, "EmptyLatentImage", [1024, 1024, 1], inputs=[("width", "INT", 8)])
    latent["inputs"][0]["widget"] = {"name": "width"}
    workflow = parse_workflow(_ui([primitive, latent], [[8, 7, 0, 5, 0, "INT"]]))
    assert workflow.nodes["5"].inputs == {"width": 768, "height": 1024, "batch_size": 1}


def test_a_bypassed_node_passes_its_input_of_the_same_type_through() -> None:
    lora = _node(
        4, "LoraLoader", ["style.safetensors", 1, 1],
        inputs=[("model", "MODEL", 1), ("clip", "CLIP", 2)], mode=4,
    )  # fmt: skip
    text = _node(2, "CLIPTextEncode", ["a cat"], inputs=[("clip", "CLIP", 4)])
    sampler = _node(
        3, "KSampler", [1, "fixed", 20, 7, "euler", "normal", 1], inputs=[("model", "MODEL", 3)]
    )
    links = [
        [1, 1, 0, 4, 0, "MODEL"], [2, 1, 1, 4, 1, "CLIP"],
        [3, 4, 0, 3, 0, "MODEL"], [4, 4, 1, 2, 0, "CLIP"],
    ]  # fmt: skip
    workflow = parse_workflow(_ui([_CKPT, lora, text, sampler], links))
    assert "4" not in workflow.nodes
    assert workflow.nodes["3"].inputs["model"] == ["1", 0]
    assert workflow.nodes["2"].inputs["clip"] == ["1", 1]


def test_a_bypassed_node_with_nothing_to_pass_through_is_refused() -> None:
    loader = _node(4, "LoraLoader", ["style.safetensors", 1, 1], mode=4)
    text = _node(2, "CLIPTextEncode", ["a cat"], inputs=[("clip", "CLIP", 4)])
    with pytest.raises(WorkflowError, match=r"node 4 \(LoraLoader\), which is bypassed"):
        parse_workflow(_ui([loader, text], [[4, 4, 1, 2, 0, "CLIP"]]))


def test_an_input_fed_by_a_muted_node_is_refused() -> None:
    muted = _node(1, "CheckpointLoaderSimple", ["x.safetensors"], mode=2)
    with pytest.raises(WorkflowError, match=r"which is muted"):
        parse_workflow(_ui([muted, _TEXT], [[2, 1, 1, 2, 0, "CLIP"]]))


def test_a_subgraph_is_refused_with_what_to_do() -> None:
    sub_id = "ddd1571b-c923-4645-9eba-e238fb45ee9e"
    doc = _ui(
        [_node(41, sub_id, ["a cat"])], [],
        definitions={"subgraphs": [{"id": sub_id, "name": "Flux.1 Dev Text to Image"}]},
    )  # fmt: skip
    with pytest.raises(WorkflowError, match=r"subgraph 'Flux.1 Dev Text to Image'.*Unpack"):
        parse_workflow(doc)


def test_a_group_node_is_refused_with_what_to_do() -> None:
    doc = _ui([_node(5, "workflow>Sampling", [1])], [], extra={"groupNodes": {"Sampling": {}}})
    with pytest.raises(WorkflowError, match=r"group node 'Sampling'.*Convert to nodes"):
        parse_workflow(doc)


def test_unknown_widget_names_ask_for_an_api_export() -> None:
    with pytest.raises(WorkflowError, match=r"1 \(MyCustomNode\).*Export \(API\)"):
        parse_workflow(_ui([_node(1, "MyCustomNode", [1, 2])], []))


def test_a_ui_link_to_a_missing_node_or_link_is_named() -> None:
    with pytest.raises(
        WorkflowError, match=r"'clip' of node 2 \(CLIPTextEncode\) is linked to node 77"
    ):
        parse_workflow(_ui([_TEXT], [[2, 77, 1, 2, 0, "CLIP"]]))
    with pytest.raises(WorkflowError, match=r"uses link 2, which is not in the file's links"):
        parse_workflow(_ui([_TEXT], []))


# --- bad input ---------------------------------------------------------------------------


def test_a_workflow_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(WorkflowError, match=r"up to 5 MB"):
        parse_workflow(b"{" * (MAX_WORKFLOW_BYTES + 1))
    with pytest.raises(WorkflowError, match=r"up to 5 MB"):
        parse_workflow("é" * (MAX_WORKFLOW_BYTES // 2 + 1))  # counted in UTF-8 bytes


def test_malformed_json_says_where() -> None:
    with pytest.raises(WorkflowError, match=r"not valid JSON: .* at line 2, column 8"):
        parse_workflow('{\n  "3": }')
    with pytest.raises(WorkflowError, match=r"not UTF-8"):
        parse_workflow(b'{"a": "\xff"}')


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("[1, 2]", r"a JSON list, not an object; expected ComfyUI's API format"),
        (
            '{"hello": "world"}',
            r"expected ComfyUI's API format \(node id -> \{class_type, inputs\}\) or its UI format \(nodes and links\), as saved by ComfyUI's Save or Export \(API\)",
        ),
        ('{"nodes": 3, "links": []}', r"not a ComfyUI workflow"),
        ("{}", r"empty"),
        ('{"nodes": [], "links": []}', r"empty"),
        (
            '{"nodes": [{"id": 1, "type": "Note", "widgets_values": ["hi"]}], "links": []}',
            r"only notes",
        ),
        (
            '{"3": {"class_type": "KSampler", "inputs": {}}, "4": {"inputs": {}}}',
            r"Node 4 has no class_type",
        ),
        (
            '{"3": {"class_type": "KSampler", "inputs": [1]}}',
            r"inputs of node 3 \(KSampler\) are not an object",
        ),
        ('{"nodes": [{"id": 1}], "links": []}', r"Node 1 has no type"),
    ],
)
def test_each_bad_input_gets_its_message(data: str, expected: str) -> None:
    with pytest.raises(WorkflowError, match=expected):
        parse_workflow(data)


def test_a_link_to_an_unknown_node_is_named() -> None:
    api = {"3": {"class_type": "VAEDecode", "inputs": {"samples": ["99", 0]}}}
    with pytest.raises(
        WorkflowError, match=r"'samples' of node 3 \(VAEDecode\) is linked to node '99'"
    ):
        parse_workflow(json.dumps(api))


def test_a_cycle_is_refused_and_its_nodes_named() -> None:
    api = {
        "1": {"class_type": "A", "inputs": {"x": ["2", 0]}},
        "2": {"class_type": "B", "inputs": {"x": ["3", 0]}},
        "3": {"class_type": "C", "inputs": {"x": ["1", 0], "y": 5}},
        "4": {"class_type": "D", "inputs": {"x": ["1", 0]}},
    }
    with pytest.raises(WorkflowError, match=r"cycle: 1 \(A\) <- 2 \(B\) <- 3 \(C\) <- 1 \(A\)"):
        parse_workflow(json.dumps(api))
    with pytest.raises(WorkflowError, match=r"cycle: 5 \(E\) <- 5 \(E\)"):
        parse_workflow(json.dumps({"5": {"class_type": "E", "inputs": {"x": ["5", 0]}}}))


def test_a_long_chain_is_not_a_cycle() -> None:
    api = {
        str(i): {"class_type": "N", "inputs": {"x": [str(i - 1), 0]} if i else {}}
        for i in range(5000)
    }
    assert len(parse_workflow(json.dumps(api)).nodes) == 5000


# --- URLs and names ----------------------------------------------------------------------


def test_an_https_url_is_taken() -> None:
    url = "https://raw.githubusercontent.com/o/r/main/workflow.json"
    assert check_workflow_url(f"  {url}\n") == url


@pytest.mark.parametrize(
    "url",
    ["http://example.com/w.json", "ftp://example.com/w.json", "https://", "https:///w.json",
     "file:///etc/passwd", "example.com/w.json", "not a url", "https://[::1", ""],
)  # fmt: skip
def test_any_other_url_is_refused_with_what_to_do(url: str) -> None:
    with pytest.raises(WorkflowError, match=r"only from https URLs.*attach the file instead"):
        check_workflow_url(url)


def test_a_url_with_a_password_is_refused() -> None:
    with pytest.raises(WorkflowError, match=r"user name or password"):
        check_workflow_url("https://me:hunter2@example.com/w.json")


@pytest.mark.parametrize(
    ("given", "slug"),
    [("SDXL Text to Image.json", "sdxl-text-to-image"), ("dir/flux_dev.JSON", "flux-dev"),
     ("日本語", "workflow"), ("x" * 60, "x" * 40), ("a" * 39 + " b", "a" * 39)],
)  # fmt: skip
def test_names_are_slugged(given: str, slug: str) -> None:
    assert workflow_slug(given) == slug


# --- properties --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_fail_with_anything_but_a_workflow_error(data: bytes) -> None:
    try:
        parse_workflow(data)
    except WorkflowError:
        pass


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        [
            "",
            "Note",
            "Reroute",
            "PrimitiveNode",
            "KSampler",
            "CLIP",
            "1",
            "2",
            "fixed",
            "workflow>g",
        ]
    )
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=6)
    | st.dictionaries(
        st.sampled_from(["id", "type", "mode", "inputs", "link", "name", "widget", "widgets_values",
                         "class_type", "nodes", "links", "title", "_meta", "definitions", "1", "2"]),
        inner,
        max_size=6,
    ),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(_json_values, st.lists(_json_values, max_size=5))
def test_random_json_shapes_never_fail_with_anything_but_a_workflow_error(
    top: Any, nodes: list[Any]
) -> None:
    for doc in (
        top,
        {"nodes": nodes, "links": top},
        {"1": top, "2": {"class_type": "X", "inputs": top}},
    ):
        try:
            parse_workflow(json.dumps(doc))
        except WorkflowError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_damaged_real_ui_saves_never_fail_with_anything_but_a_workflow_error(
    data: st.DataObject,
) -> None:
    doc = _json(data.draw(st.sampled_from([CONTROLNET_UI, CUSTOM_LORA_UI])))
    for _ in range(data.draw(st.integers(1, 4))):
        target = data.draw(st.sampled_from(["nodes", "links"]))
        if doc[target]:
            index = data.draw(st.integers(0, len(doc[target]) - 1))
            if data.draw(st.booleans()):
                del doc[target][index]
            elif target == "nodes":
                doc["nodes"][index]["mode"] = data.draw(st.sampled_from([0, 2, 4]))
            else:
                doc["links"][index][1] = data.draw(st.integers(0, 60))
    try:
        parse_workflow(json.dumps(doc))
    except WorkflowError:
        pass
