"""What every input key and every graph attribute means: name, type, SI unit, range.

Two tables live here. The first is the field tree of layout and catalogue files:
``layout.py`` and ``catalogue.py`` check input against it, and
:func:`layout_json_schema` writes the JSON Schema shipped for editors from the same
tree. The second, :data:`NODE_ATTRS` and :data:`EDGE_ATTRS`, documents the attributes
that ``build.py`` puts on the graph (PyPSA keeps such a table as ``component_attrs``).
"""

from __future__ import annotations

from typing import Any

from topo._fields import (
    Boolean,
    Integer,
    ListOf,
    MapOf,
    NameOr,
    Number,
    Obj,
    Quantity,
    String,
)

__all__ = [
    "MODEL",
    "MODEL_FILE",
    "ACCELERATOR",
    "CABLES_FILE",
    "CATALOGUE_FILE",
    "DEVICE_KINDS",
    "DTYPES",
    "EDGE_ATTRS",
    "LAYOUT",
    "LINK",
    "MEDIA",
    "NODE_ATTRS",
    "catalogue_json_schema",
    "layout_json_schema",
]

DTYPES = ("fp64", "tf32", "fp32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8", "int4")
MEDIA = ("copper", "active_copper", "optical", "pcb")
DEVICE_KINDS = (
    "compute_tray",
    "switch_tray",
    "power_shelf",
    "network_switch",
    "cdu",
    "blank",
    "other",
)
TOPOLOGIES = ("switched", "torus", "full_mesh")
SCALE_OUT_TOPOLOGIES = ("rail_fat_tree", "none")
CONFIDENCE = ("high", "medium", "low")

# Catalogue names: lower-case words joined by '-' (h100-sxm, ib-ndr).
NAME_PATTERN = r"[a-z0-9][a-z0-9._-]*"

_SOURCES = ListOf(String(max_length=500), description="where each fact comes from", max_items=20)

EFFICIENCY = Obj(
    {
        "hbm": Number(
            "achievable fraction of peak HBM bandwidth", maximum=1.0, exclusive_minimum=True
        ),
        "compute": Number(
            "achievable fraction of peak dense FLOP/s", maximum=1.0, exclusive_minimum=True
        ),
        "basis": String("what the fractions are based on"),
    },
    description="achievable fractions of peak (defaults; calibrate to override)",
)

ACCELERATOR = Obj(
    {
        "name": String("catalogue name, e.g. h100-sxm", pattern=NAME_PATTERN, max_length=80),
        "aliases": ListOf(
            String(pattern=NAME_PATTERN, max_length=80),
            max_items=10,
            description="other names that find this entry",
        ),
        "vendor": String("who makes it"),
        "description": String("what it is"),
        "peak_compute": MapOf(
            Quantity("compute", "dense peak (no 2:4 sparsity)", nullable=True),
            description="dense peak FLOP/s (or OP/s for int8) by dtype",
            keys=DTYPES,
        ),
        "hbm_capacity": Quantity("data", "HBM capacity per accelerator"),
        "hbm_bandwidth": Quantity("bandwidth", "peak HBM bandwidth per accelerator", nullable=True),
        "scale_up_bandwidth": Quantity(
            "bandwidth", "scale-up bandwidth per accelerator, per direction", nullable=True
        ),
        "scale_up_link": String("catalogue link of its scale-up fabric", pattern=NAME_PATTERN),
        "links_per_gpu": Integer("scale-up links per accelerator", minimum=1, maximum=1024),
        "scale_out_bandwidth": Quantity(
            "bandwidth", "scale-out NIC bandwidth per accelerator, per direction", nullable=True
        ),
        "power": Quantity("power", "power per accelerator (TDP/TGP)", nullable=True),
        "efficiency": EFFICIENCY,
        "sources": _SOURCES,
        "confidence": String("how sure the facts are", choices=CONFIDENCE),
        "notes": String("caveats"),
    },
    description="an accelerator (GPU, TPU, Trainium): catalogue name or inline entry",
)

LINK = Obj(
    {
        "name": String("catalogue name, e.g. nvlink5", pattern=NAME_PATTERN, max_length=80),
        "aliases": ListOf(String(pattern=NAME_PATTERN, max_length=80), max_items=10),
        "description": String("what it is"),
        "bandwidth": Quantity("bandwidth", "bandwidth of one link, per direction"),
        "lanes": Integer(
            "lanes (differential pairs) per direction in one link", minimum=1, maximum=64
        ),
        "lane_rate": Quantity("bitrate", "signalling rate of one lane", nullable=True),
        "latency": Quantity("time", "latency of one hop over this link", exclusive_minimum=False),
        "medium": String("the usual medium", choices=MEDIA),
        "sources": _SOURCES,
        "notes": String("caveats"),
    },
    description="a link type: catalogue name or inline entry",
)

CATALOGUE_FILE = Obj(
    {
        "schema_version": Integer("catalogue file format version", minimum=1, maximum=1),
        "accelerators": ListOf(ACCELERATOR, max_items=500),
        "links": ListOf(LINK, max_items=500),
    },
    description="a topo catalogue file: accelerators and links",
)

_REACH_POINT = Obj(
    {
        "lane_rate": Quantity("bitrate", "signalling rate of one lane"),
        "reach": Quantity("length", "how far the medium carries it"),
    },
    required=("lane_rate", "reach"),
)

CABLE_MEDIUM = Obj(
    {
        "description": String("what it is"),
        "diameter": Quantity("length", "outer diameter of one cable"),
        "pairs": Integer("signal channels in one cable", minimum=1, maximum=1024),
        "bend_factor": Number("minimum bend radius in cable diameters", minimum=1, maximum=100),
        "connector_depth": Quantity(
            "length", "depth of a connector and its boot", exclusive_minimum=False
        ),
        "mass": Quantity("linear_mass", "mass of one cable per metre"),
        "reach_model": String("how reach goes between points", choices=("interpolate", "steps")),
        "reach": ListOf(_REACH_POINT, min_items=1, max_items=20, description="reach by lane rate"),
        "port_power": Quantity(
            "power",
            "module power at each end per 1.6 Tb/s of bandwidth",
            exclusive_minimum=False,
        ),
        "sources": _SOURCES,
    },
    required=(
        "diameter",
        "pairs",
        "bend_factor",
        "connector_depth",
        "mass",
        "reach_model",
        "reach",
        "port_power",
    ),
    description="one cable medium",
)

CABLES_FILE = Obj(
    {
        "schema_version": Integer("file format version", minimum=1, maximum=1),
        "media": MapOf(CABLE_MEDIUM, keys=("copper", "active_copper", "optical")),
    },
    required=("media",),
    description="topo's cable media (topo/data/cables.yaml)",
)

DEVICE = Obj(
    {
        "kind": String("what the device is", choices=DEVICE_KINDS),
        "name": String("a label for figures and reports", max_length=80),
        "count": Integer(
            "how many of it, stacked in elevation order", minimum=1, maximum=1000, default=1
        ),
        "height_u": Number("height of one, in rack units (1 U = 44.45 mm)", maximum=100, default=1),
        "mass": Quantity("mass", "mass of one"),
        "power": Quantity(
            "power", "electrical power of one at full load (all it holds)", exclusive_minimum=False
        ),
        "gpus": Integer("accelerators in one (compute trays)", minimum=1, maximum=1024),
        "cpus": Integer("host CPUs in one", maximum=64),
        "nics": Integer("scale-out NICs in one", maximum=1024),
        "switch_chips": Integer(
            "scale-up switch chips in one (switch trays)", minimum=1, maximum=64
        ),
        "ports": Integer(
            "scale-up ports of one switch tray (all its chips)", minimum=1, maximum=100_000
        ),
        "capacity": Quantity("power", "output of one power shelf"),
        "cooling": String("how its heat leaves", choices=("liquid", "air", "hybrid")),
        "liquid_fraction": Number("share of its heat taken by liquid", maximum=1.0),
    },
    required=("kind",),
    description="one line of the rack elevation, top to bottom",
)

RACK = Obj(
    {
        "height_u": Integer("usable height in rack units", minimum=1, maximum=100, default=42),
        "width": Quantity("length", "width of the rack footprint", default="600 mm"),
        "depth": Quantity("length", "depth of the rack footprint", default="1200 mm"),
        "frame_mass": Quantity(
            "mass", "the empty frame with busbar, manifolds and cables", exclusive_minimum=False
        ),
        "max_mass": Quantity("mass", "static payload rating of the frame"),
        "power_budget": Quantity("power", "power the rack position is given"),
        "busbar": Obj(
            {
                "voltage": Quantity("voltage", "busbar voltage"),
                "current": Quantity("current", "busbar current rating"),
            },
            description="DC busbar",
        ),
        "cooling": Obj(
            {
                "liquid": Quantity(
                    "power", "heat the liquid loop can take", exclusive_minimum=False
                ),
                "air": Quantity(
                    "power", "heat room air can take at this position", exclusive_minimum=False
                ),
                "liquid_flow": Quantity("flow", "coolant flow the manifold can carry"),
                "coolant_delta_t": Quantity(
                    "temperature_difference", "coolant temperature rise", default="10 K"
                ),
                "coolant_mass": Quantity(
                    "mass",
                    "coolant held in the rack's manifolds and cold plates",
                    exclusive_minimum=False,
                ),
            },
            description="cooling capacity by kind",
        ),
        "power_redundancy": Number(
            "installed shelf capacity over the load it must carry (2 = N+N)",
            minimum=1.0,
            maximum=10,
            default=2.0,
        ),
        "conversion_efficiency": Number(
            "power shelves' AC/DC efficiency (losses become heat to air)",
            maximum=1.0,
            exclusive_minimum=True,
            default=0.95,
        ),
        "rear_clearance": Quantity(
            "length", "clear depth behind the trays for cables to bend", default="100 mm"
        ),
        "backplane": Obj(
            {
                "width": Quantity("length", "usable width of the cable spine", default="450 mm"),
                "depth": Quantity("length", "depth of the cable spine", default="60 mm"),
                "packing": Number(
                    "share of the spine's area cables can fill",
                    maximum=1.0,
                    exclusive_minimum=True,
                    default=0.7,
                ),
            },
            description="the scale-up cable spine at the rear of the rack",
        ),
        "devices": ListOf(
            DEVICE, min_items=1, max_items=200, description="the elevation, top to bottom"
        ),
    },
    required=("devices",),
    description="one rack: its frame, budgets and devices",
)

SCALE_UP = Obj(
    {
        "domain": String(
            '"tray", "rack" or "N racks": which GPUs form one scale-up domain',
            pattern=r"tray|rack|[1-9][0-9]{0,3} racks?",
            default="rack",
        ),
        "topology": String("how the domain is wired", choices=TOPOLOGIES),
        "dims": ListOf(
            Integer(minimum=1, maximum=4096),
            min_items=1,
            max_items=3,
            description="torus dimensions, e.g. [4, 4, 4]",
        ),
        "wraparound": Boolean("torus links close each ring", default=True),
        "link": NameOr(LINK, description="the link type (default: the accelerator's)"),
        "links_per_gpu": Integer(
            "links per GPU (default: the accelerator's)", minimum=1, maximum=1024
        ),
        "switches": Integer(
            "switch chips (planes) per domain (default: from switch trays)", minimum=1, maximum=4096
        ),
        "medium": String(
            "medium of the domain's links (default: pcb in a tray, copper otherwise)", choices=MEDIA
        ),
        "wrap_medium": String("medium of torus wraparound links (default: medium)", choices=MEDIA),
        "cable_slack": Quantity(
            "length",
            "cable length beyond the vertical run (to the rear connector, service loop)",
            exclusive_minimum=False,
            default="0.15 m",
        ),
        "cable": Obj(
            {
                "diameter": Quantity(
                    "length", "outer diameter of one cable (default: the medium's, cables.yaml)"
                ),
                "pairs": Integer(
                    "signal channels in one cable: differential pairs, or fibres in optics "
                    "(default: the medium's)",
                    minimum=1,
                    maximum=1024,
                ),
                "bend_factor": Number(
                    "minimum bend radius in cable diameters (default: the medium's)",
                    minimum=1,
                    maximum=100,
                ),
                "connector_depth": Quantity(
                    "length",
                    "depth of a connector and its boot (default: the medium's)",
                    exclusive_minimum=False,
                ),
                "mass": Quantity(
                    "linear_mass", "mass of one cable per metre (default: the medium's)"
                ),
                "reach": Quantity(
                    "length",
                    "longest run the medium carries at the lane rate "
                    "(default: from the medium and lane rate)",
                ),
            },
            description="the scale-up cables; unset keys take the medium's figures "
            "(topo/data/cables.yaml: copper 6.7 mm, 16 pairs, 10x bend, 150 g/m; "
            "optical 3 mm, 16 fibres, 10x bend, 7.5 g/m)",
        ),
        "collective_overhead": Quantity(
            "time",
            "fixed cost of one collective call inside a domain (launch, synchronisation; "
            "assumed, calibrate to measure)",
            exclusive_minimum=False,
            default="10 us",
        ),
    },
    required=("topology",),
    description="the scale-up domain (NVLink, ICI, xGMI)",
)

SCALE_OUT = Obj(
    {
        "topology": String("the fabric", choices=SCALE_OUT_TOPOLOGIES, default="rail_fat_tree"),
        "nic_bandwidth": Quantity(
            "bandwidth", "NIC bandwidth per GPU, per direction (default: the accelerator's)"
        ),
        "link": NameOr(LINK, description="the link type of NIC and switch ports", default="ib-ndr"),
        "rails": Integer("rails (default: GPUs per compute tray)", minimum=1, maximum=1024),
        "leaf_radix": Integer("ports per leaf switch", minimum=2, maximum=4096, default=64),
        "spine_radix": Integer("ports per spine switch", minimum=2, maximum=4096, default=64),
        "oversubscription": Number(
            "leaf down:up bandwidth ratio", minimum=1.0, maximum=64, default=1.0
        ),
        "latency": Quantity(
            "time", "latency of one hop (default: the link's)", exclusive_minimum=False
        ),
        "medium": String("medium of fabric links", choices=MEDIA, default="optical"),
        "cable_length": Quantity("length", "length of one fabric cable", default="30 m"),
        "collective_overhead": Quantity(
            "time",
            "fixed cost of one collective call that crosses domains (assumed, calibrate)",
            exclusive_minimum=False,
            default="20 us",
        ),
    },
    description="the scale-out fabric (InfiniBand, Ethernet)",
)

CLUSTER = Obj(
    {
        "racks": Integer("racks of this design", minimum=1, maximum=100_000, default=1),
        "racks_per_row": Integer("racks in one row", minimum=1, maximum=1000, default=8),
        "aisle_width": Quantity("length", "aisle width shared by a row", default="1.2 m"),
        "floor_rating": Quantity("floor_load", "distributed load rating of the floor"),
    },
    description="how many racks and how they stand",
)

LAYOUT = Obj(
    {
        "name": String("the layout's name", pattern=NAME_PATTERN, max_length=80),
        "description": String("one line about it"),
        "extends": String("a bundled layout name or a path: its keys are the defaults"),
        "catalogue": ListOf(
            String(max_length=500),
            max_items=20,
            description="catalogue files with extra or overriding entries",
        ),
        "accelerator": NameOr(
            ACCELERATOR,
            description="the accelerator: catalogue name or "
            "inline entry (fields given override the catalogue)",
        ),
        "rack": RACK,
        "scale_up": SCALE_UP,
        "scale_out": SCALE_OUT,
        "cluster": CLUSTER,
        "notes": String("free text: assumptions, sources", max_length=20_000),
    },
    required=("accelerator", "rack", "scale_up"),
    description="a topo rack layout",
)


MODEL = Obj(
    {
        "name": String("catalogue name, e.g. llama-3-70b", pattern=NAME_PATTERN, max_length=80),
        "aliases": ListOf(String(pattern=NAME_PATTERN, max_length=80), max_items=10),
        "description": String("what it is"),
        "layers": Integer("transformer layers", minimum=1, maximum=1000),
        "d_model": Integer("hidden size", minimum=1, maximum=1_000_000),
        "heads": Integer("attention (query) heads", minimum=1, maximum=10_000),
        "kv_heads": Integer("key/value heads (= heads for MHA)", minimum=1, maximum=10_000),
        "head_dim": Integer("dimension of one head", minimum=1, maximum=10_000),
        "ffn": Integer("dense FFN (intermediate) size", minimum=1, maximum=10_000_000),
        "gated": Boolean("gated FFN (SwiGLU: three matrices) or not (two)", default=True),
        "vocab": Integer("vocabulary size", minimum=1, maximum=10_000_000),
        "tied_embeddings": Boolean("output head shares the input embedding", default=False),
        "mla": Obj(
            {
                "q_lora_rank": Integer("query low-rank size (0: none)", maximum=1_000_000),
                "kv_lora_rank": Integer("latent KV size", minimum=1, maximum=1_000_000),
                "qk_nope_head_dim": Integer(
                    "non-rotary query/key dim per head", minimum=1, maximum=10_000
                ),
                "qk_rope_head_dim": Integer(
                    "rotary query/key dim per head", minimum=1, maximum=10_000
                ),
                "v_head_dim": Integer("value dim per head", minimum=1, maximum=10_000),
            },
            required=("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"),
            description="multi-head latent attention (DeepSeek)",
        ),
        "moe": Obj(
            {
                "experts": Integer("routed experts per MoE layer", minimum=1, maximum=100_000),
                "experts_per_token": Integer(
                    "routed experts each token selects", minimum=1, maximum=1024
                ),
                "shared_experts": Integer("always-on shared experts", maximum=1024, default=0),
                "expert_ffn": Integer("FFN size of one expert", minimum=1, maximum=10_000_000),
                "dense_layers": Integer(
                    "first layers that are dense, not MoE", maximum=1000, default=0
                ),
            },
            required=("experts", "experts_per_token", "expert_ffn"),
            description="mixture of experts",
        ),
        "sliding_window": Obj(
            {
                "window": Integer(
                    "tokens a windowed layer attends to", minimum=1, maximum=100_000_000
                ),
                "layers": Integer("how many layers are windowed", minimum=0, maximum=1000),
            },
            required=("window", "layers"),
            description="sliding-window attention on some layers",
        ),
        "sources": _SOURCES,
        "notes": String("caveats"),
    },
    required=("name", "layers", "d_model", "heads", "head_dim", "ffn", "vocab"),
    description="a transformer architecture",
)

MODEL_FILE = Obj(
    {
        "schema_version": Integer("file format version", minimum=1, maximum=1),
        "models": ListOf(MODEL, max_items=500),
    },
    description="a topo model catalogue file",
)


def layout_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of layout files, from the same fields the loader uses."""
    strict = LAYOUT.schema()
    # A layout that `extends` another gives only what it changes: no key is required.
    relaxed = _without_required(strict)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://topo.invalid/layout.schema.json",
        "title": "topo layout",
        "description": strict["description"],
        "type": "object",
        "if": {"required": ["extends"]},
        "then": relaxed,
        "else": strict,
    }


def catalogue_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of catalogue files (``--catalogue``, ``catalogue:``).

    Written from :data:`CATALOGUE_FILE`, the fields the catalogue loader checks. Every
    entry needs a ``name``; an entry whose name is not in the bundled catalogue is a new
    part and must be complete (an accelerator's peaks and HBM, a link's bandwidth), as the
    loader requires; an entry with a bundled name overrides only the fields it gives.
    """
    from topo.catalogue import load_catalogue

    cat = load_catalogue()
    s = CATALOGUE_FILE.schema()
    complete = {"accelerators": ["peak_compute", "hbm_capacity"], "links": ["bandwidth"]}
    for section, needed in complete.items():
        known = sorted({*cat.names(section), *cat.aliases[section]})
        entry = s["properties"][section]["items"]
        entry["required"] = ["name"]
        entry["if"] = {"properties": {"name": {"not": {"enum": known}}}}
        entry["then"] = {"required": ["name", *needed]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://topo.invalid/catalogue.schema.json",
        "title": "topo catalogue",
        **s,
    }


def _without_required(s: Any) -> Any:
    if isinstance(s, dict):
        return {k: _without_required(v) for k, v in s.items() if k != "required"}
    if isinstance(s, list):
        return [_without_required(v) for v in s]
    return s


# ---------------------------------------------------------------- graph attributes
# name -> (type, SI unit, description). build.py sets exactly these.
NODE_ATTRS: dict[str, tuple[str, str, str]] = {
    "kind": ("str", "", "gpu | switch | leaf | spine"),
    "rack": ("int", "", "rack index; -1 for fabric switches outside GPU racks"),
    "domain": ("int", "", "scale-up domain index; -1 for scale-out switches"),
    "u": ("float", "U", "lowest rack unit of the device holding it; -1 outside racks"),
    "tray": ("int", "", "index of the tray in its rack's elevation; -1 if none"),
    "index": ("int", "", "GPU: global rank order; switch: index within its domain or tier"),
    "local": ("int", "", "GPU: index within its tray (its rail); others: -1"),
    "coords": ("str", "", "torus coordinates 'x,y,z' of a GPU; '' otherwise"),
    "rail": ("int", "", "scale-out rail of a GPU or leaf; -1 otherwise"),
}
EDGE_ATTRS: dict[str, tuple[str, str, str]] = {
    "kind": ("str", "", "scale_up | scale_out"),
    "bandwidth": ("float", "B/s", "bandwidth per direction, all links of the edge together"),
    "latency": ("float", "s", "latency of one hop"),
    "medium": ("str", "", "copper | optical | pcb"),
    "length": ("float", "m", "cable or trace length"),
    "lanes": ("int", "", "lanes per direction, all links together"),
    "links": ("int", "", "links bundled in this edge"),
    "link": ("str", "", "catalogue link name"),
}
