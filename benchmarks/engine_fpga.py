"""A whole engine on ECP5 over several nextpnr seeds: the section the engine PPA benchmarks share.

:func:`measure` synthesizes one spec's engine (:func:`rtl_gen.export.verilog_for`, the Verilog ``accel synth``
reads) with :func:`rtl_gen.fpga.synthesize` for nextpnr seeds 1..``seeds`` (placement alone moves Fmax by
±5–7 %) at ``target_mhz``, and returns one row per seed (LUT4, FF, MULT18X18D, DP16KD, Fmax) with the
lowest Fmax. Reports are cached by Verilog hash and seed, so a rerun with unchanged RTL takes seconds.
"""

from rtl_gen.export import module_name, verilog_for
from rtl_gen.fpga import DEFAULT_DEVICE, synthesize

TARGET_MHZ = 150.0
"""The engines' clock goal (issue #18): nextpnr optimizes for it, the achieved Fmax is reported."""

COLUMNS = [  # (JSON key, table heading, format)
    ("module", "module", "{}"),
    ("seed", "seed", "{}"),
    ("lut4", "LUT4", "{}"),
    ("ff", "FF", "{}"),
    ("dsp", "MULT18X18D", "{}"),
    ("bram", "DP16KD", "{}"),
    ("fmax_mhz", "Fmax MHz", "{:.1f}"),
]


def measure(spec, seeds: int, device: str = DEFAULT_DEVICE, target_mhz: float = TARGET_MHZ) -> dict:
    """The engine of ``spec`` on ``device``, nextpnr seeds 1..``seeds``: {spec, target_mhz, runs, fmax_min_mhz}."""
    text, top = verilog_for(spec), module_name(spec)
    runs = []
    for seed in range(1, seeds + 1):
        report = synthesize(text, top, device, target_mhz=target_mhz, seed=seed)
        runs.append({"module": top, "seed": seed, **{key: report.to_dict()[key] for key in
                                                     ("lut4", "ff", "dsp", "bram", "fmax_mhz", "verilog_hash")}})
    return {"spec": spec.to_dict(), "device": device, "target_mhz": target_mhz, "runs": runs,
            "fmax_min_mhz": min(run["fmax_mhz"] for run in runs)}
