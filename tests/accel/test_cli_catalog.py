"""A catalog of bad command lines: each fails in validation, before any work, as one line with status 2.

Every case runs ``python -m accel.cli`` as a user would, in a folder of its own (with the files the case
needs), two at a time. For each: exit status 2, nothing on stdout, exactly one line on stderr starting
``accel: error: `` and containing the case's complaint, no traceback, and the folder unchanged (no file
written, created or modified; an ``--out`` target inside it not created).
"""

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPEC_FILES = {  # name: contents, written into every case's folder
    "latin1.json": b'{"spec": "dot_product", "lanes": 8, "note": "caf\xe9"}',
    "bom.json": b'\xef\xbb\xbf{"spec": "dot_product"}',
    "list_spec.json": b'{"spec": ["dot_product"]}',
    "null_spec.json": b'{"spec": null}',
    "deep.json": b"[" * 100_000 + b"]" * 100_000,
    "deep_value.json": b'{"spec": "dot_product", "lanes": ' + b"[" * 500 + b"]" * 500 + b"}",
    "long_number.json": b'{"spec": "dot_product", "lanes": ' + b"9" * 5000 + b"}",
    "long_int_value.json": b'{"spec": "dot_product", "lanes": ' + b"9" * 4000 + b"}",
    "not_json.json": b"lanes = 8",
    "empty.json": b"",
    "array.json": b'["dot_product", 8]',
    "no_spec_key.json": b'{"lanes": 8}',
    "unknown_spec.json": b'{"spec": "nosuch"}',
    "mac_array.json": b'{"spec": "mac_array"}',
    "unknown_param.json": b'{"spec": "dot_product", "depth": 3}',
    "string_value.json": b'{"spec": "dot_product", "lanes": "8"}',
    "bool_value.json": b'{"spec": "dot_product", "lanes": true}',
    "float_value.json": b'{"spec": "dot_product", "lanes": 8.5}',
    "huge_float.json": b'{"spec": "dot_product", "lanes": 1e400}',
    "nan_value.json": b'{"spec": "dot_product", "lanes": NaN}',
    "zero_value.json": b'{"spec": "dot_product", "lanes": 0}',
    "repeated_key.json": b'{"spec": "dot_product", "lanes": 4, "lanes": 8}',
    "bad_choice.json": b'{"spec": "xnor", "port_bits": 48}',
    "file.txt": b"not a directory\n",
    "huge.csv": b"Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
                b"c1, 8, 8, 3, 3, 1000000000000000000000000000000, 4, 1,\n",
    "stride.csv": b"Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
                  b"c1, 8, 8, 3, 3, 4, 4, 9,\n",
}

GENERATE = ["generate", "dot_product", "--out", "out"]
EXPLORE = ["explore", "mac_array", "--out", "out"]
MAC, EIE, XNOR = (["simulate", "--engine", engine] for engine in ("mac_array", "eie", "xnor"))


def layer(base: list[str], text: str) -> list[str]:
    return [*base, "--layer", text]


CASES = {  # id: (arguments, complaint in the message)
    # commands, options, arguments
    "unknown-command": (["frobnicate"], "No such command 'frobnicate'"),
    "unknown-option": (["--frobnicate"], "No such option '--frobnicate'"),
    "generate-no-name": (["generate", "--out", "out"], "Missing argument 'BLOCK_OR_ENGINE'"),
    "generate-unknown-block": (["generate", "nosuch", "--out", "out"], "'nosuch' is not a known block or engine"),
    "generate-missing-out": (["generate", "dot_product"], "Missing option '--out'"),
    "generate-extra-argument": ([*GENERATE, "extra"], "Got unexpected extra argument (extra)"),
    "generate-unknown-option": ([*GENERATE, "--lanes", "8"], "No such option '--lanes'"),
    "params-unknown": (["params", "nosuch"], "'nosuch' is not a known block or engine"),
    "params-line-break": (["params", "dot\nproduct"], "'dot\\nproduct' is not a known block or engine"),
    "synth-unknown-device": (["synth", "mac_array", "--device", "XC7A35T"], "'XC7A35T' is not a known ECP5 device"),
    "synth-freq-zero": (["synth", "mac_array", "--freq", "0"], "target_mhz: 0.0 is not a frequency"),
    "synth-freq-negative": (["synth", "dot_product", "--freq", "-100"], "target_mhz: -100.0 is not a frequency"),
    "synth-freq-nan": (["synth", "dot_product", "--freq", "nan"], "target_mhz: nan is not a frequency"),
    "synth-freq-inf": (["synth", "dot_product", "--freq", "inf"], "target_mhz: inf is not a frequency"),
    "synth-freq-text": (["synth", "dot_product", "--freq", "fast"], "'fast' is not a valid float"),
    "synth-has-no-out": (["synth", "dot_product", "--out", "out"], "No such option '--out'"),
    # --set
    "set-zero": ([*GENERATE, "--set", "lanes=0"], "dot_product.lanes: 0 is not allowed; expected an integer in 1..256"),
    "set-too-large": ([*GENERATE, "--set", "lanes=257"], "dot_product.lanes: 257 is not allowed"),
    "set-negative": ([*GENERATE, "--set", "lanes=-1"], "dot_product.lanes: -1 is not allowed"),
    "set-text": ([*GENERATE, "--set", "lanes=abc"], "dot_product.lanes: 'abc' is not allowed"),
    "set-float": ([*GENERATE, "--set", "lanes=8.0"], "dot_product.lanes: '8.0' is not allowed"),
    "set-empty-value": ([*GENERATE, "--set", "lanes="], "dot_product.lanes: '' is not allowed"),
    "set-no-equals": ([*GENERATE, "--set", "lanes"], "'lanes' is not of the form key=value"),
    "set-no-key": ([*GENERATE, "--set", "=8"], "'=8' is not of the form key=value"),
    "set-unknown-key": ([*GENERATE, "--set", "depth=3"], "unknown parameter 'depth'"),
    "set-twice": ([*GENERATE, "--set", "lanes=4", "--set", "lanes=16"], "'lanes' is set twice"),
    "set-twice-spaced": ([*GENERATE, "--set", "lanes=4", "--set", " lanes = 4"], "'lanes' is set twice"),
    "set-5000-digits": ([*GENERATE, "--set", "lanes=" + "9" * 5000], "dot_product.lanes: '99999999999999999"),
    "mac-atomic-not-pow2": (["generate", "mac_array", "--set", "atomic_c=6", "--set", "atomic_k=6", "--out", "out"],
                            "mac_array.atomic_c: 6 is not allowed"),
    "mac-atomic-too-large": (["generate", "mac_array", "--set", "atomic_c=128", "--out", "out"],
                             "mac_array.atomic_c: 128 is not allowed"),
    "mac-atomic-k-differs": (["generate", "mac_array", "--set", "atomic_c=8", "--set", "atomic_k=16", "--out", "out"],
                             "expected atomic_k == atomic_c"),
    "mac-banks-too-few": (["generate", "mac_array", "--set", "banks=4", "--out", "out"],
                          "mac_array.banks: 4 is not allowed; expected at least 2 × atomic_k = 8"),
    "mac-banks-below-set-atomics": (["generate", "mac_array", "--set", "atomic_c=32", "--set", "banks=32", "--out",
                                     "out"], "mac_array.banks: 32 is not allowed; expected at least 2 × atomic_k"),
    "mac-bank-kib-zero": (["generate", "mac_array", "--set", "bank_kib=0", "--out", "out"], "mac_array.bank_kib: 0"),
    "mac-max-reduction": (["generate", "mac_array", "--set", "max_reduction=0", "--out", "out"],
                          "mac_array.max_reduction: 0"),
    "mac-mem-latency": (["generate", "mac_array", "--set", "mem_latency=1", "--out", "out"],
                        "mac_array.mem_latency: 1"),
    "xnor-pe-not-pow2": (["generate", "xnor", "--set", "pe=3", "--out", "out"], "xnor.pe: 3 is not allowed"),
    "xnor-simd-one": (["generate", "xnor", "--set", "simd=1", "--out", "out"], "xnor.simd: 1 is not allowed"),
    "xnor-weight-depth": (["generate", "xnor", "--set", "weight_depth=8", "--out", "out"], "xnor.weight_depth: 8"),
    "xnor-threshold-depth": (["generate", "xnor", "--set", "threshold_depth=3", "--out", "out"],
                             "xnor.threshold_depth: 3"),
    "xnor-input-depth": (["generate", "xnor", "--set", "input_depth=100", "--out", "out"], "xnor.input_depth: 100"),
    "xnor-reduction-below-simd": (["generate", "xnor", "--set", "simd=32", "--set", "max_reduction=16", "--out", "out"],
                                  "expected at least simd = 32"),
    "xnor-input-bits": (["generate", "xnor", "--set", "input_bits=9", "--out", "out"], "xnor.input_bits: 9"),
    "xnor-port-bits": (["generate", "xnor", "--set", "port_bits=48", "--out", "out"],
                       "xnor.port_bits: 48 is not allowed; expected one of 32, 64, 128"),
    "xnor-pe-above-port": (["generate", "xnor", "--set", "pe=64", "--set", "port_bits=32", "--out", "out"],
                           "expected at most port_bits = 32"),
    "eie-n-pe": (["generate", "eie", "--set", "n_pe=3", "--out", "out"], "eie.n_pe: 3 is not allowed"),
    "eie-queue-depth": (["generate", "eie", "--set", "queue_depth=0", "--out", "out"], "eie.queue_depth: 0"),
    "eie-act-regs": (["generate", "eie", "--set", "act_regs=2", "--out", "out"], "eie.act_regs: 2"),
    "eie-ptr-entries": (["generate", "eie", "--set", "ptr_entries=2", "--out", "out"], "eie.ptr_entries: 2"),
    "eie-spmat-lines": (["generate", "eie", "--set", "spmat_lines=8192", "--out", "out"], "eie.spmat_lines: 8192"),
    "eie-act-frac": (["generate", "eie", "--set", "act_frac=15", "--out", "out"], "eie.act_frac: 15"),
    "eie-weight-frac": (["generate", "eie", "--set", "weight_frac=16", "--out", "out"], "eie.weight_frac: 16"),
    "eie-max-cols": (["generate", "eie", "--set", "max_cols=0", "--out", "out"], "eie.max_cols: 0"),
    "eie-port-bits": (["generate", "eie", "--set", "port_bits=32", "--out", "out"], "eie.port_bits: 32"),
    # --preset
    "preset-unknown": (["generate", "mac_array", "--preset", "nv_big", "--out", "out"],
                       "mac_array: unknown preset 'nv_big'; known: nv_small"),
    "preset-block-has-none": ([*GENERATE, "--preset", "paper"], "dot_product: unknown preset 'paper'; known: none"),
    "preset-other-engine": ([*layer(EIE, "dense"), "--preset", "nv_small"], "eie: unknown preset 'nv_small'; known: paper"),
    "preset-case": (["synth", "xnor", "--preset", "LFC"], "xnor: unknown preset 'LFC'; known: lfc"),
    "preset-empty": (["generate", "eie", "--preset", "", "--out", "out"], "eie: unknown preset ''; known: paper"),
    "preset-line-break": (["generate", "eie", "--preset", "paper\n", "--out", "out"], "unknown preset 'paper\\n'"),
    "preset-no-value": (["generate", "eie", "--out", "out", "--preset"], "Option '--preset' requires an argument"),
    "preset-with-spec": (["generate", "mac_array", "--spec", "mac_array.json", "--preset", "nv_small", "--out", "out"],
                         "--preset 'nv_small': cannot be combined with --spec"),
    "preset-set-conflict": (["generate", "mac_array", "--preset", "nv_small", "--set", "atomic_c=32", "--out", "out"],
                            "mac_array.atomic_k: 8 is not allowed; expected atomic_k == atomic_c (32)"),
    "preset-set-bad": ([*layer(XNOR, "dense"), "--preset", "lfc", "--set", "pe=128"], "xnor.pe: 128 is not allowed"),
    "preset-layer-too-large": ([*layer(XNOR, "dense:in=2048"), "--preset", "lfc"],
                               "exceeds xnor.max_reduction = 1024"),
    # --spec files
    "spec-missing": ([*GENERATE, "--spec", "missing.json"], "cannot read 'missing.json' (No such file or directory)"),
    "spec-directory": ([*GENERATE, "--spec", "."], "--spec: cannot read '.' (Is a directory)"),
    "spec-not-utf8": ([*GENERATE, "--spec", "latin1.json"], "cannot read 'latin1.json' (not UTF-8 text)"),
    "spec-bom": ([*GENERATE, "--spec", "bom.json"], "spec file: not valid JSON (Unexpected UTF-8 BOM"),
    "spec-spec-is-list": ([*GENERATE, "--spec", "list_spec.json"], "spec: 'spec' is ['dot_product']"),
    "spec-spec-is-null": ([*GENERATE, "--spec", "null_spec.json"], "spec: 'spec' is None"),
    "spec-deep-nesting": ([*GENERATE, "--spec", "deep.json"], "not valid JSON (nested too deeply)"),
    "spec-deep-value": ([*GENERATE, "--spec", "deep_value.json"], "dot_product.lanes: [[[[[[[[["),
    "spec-5000-digits": ([*GENERATE, "--spec", "long_number.json"], "spec file: not valid JSON (Exceeds the limit"),
    "spec-4000-digits": ([*GENERATE, "--spec", "long_int_value.json"], f"dot_product.lanes: {'9' * 37}... is"),
    "spec-not-json": ([*GENERATE, "--spec", "not_json.json"], "spec file: not valid JSON (Expecting value"),
    "spec-empty": ([*GENERATE, "--spec", "empty.json"], "spec file: not valid JSON"),
    "spec-array": ([*GENERATE, "--spec", "array.json"], "expected a JSON object with a 'spec' key"),
    "spec-no-spec-key": ([*GENERATE, "--spec", "no_spec_key.json"], "missing the 'spec' key"),
    "spec-unknown-engine": ([*GENERATE, "--spec", "unknown_spec.json"], "'nosuch' is not a known block or engine"),
    "spec-other-engine": ([*GENERATE, "--spec", "mac_array.json"], "describes 'mac_array', not 'dot_product'"),
    "spec-unknown-param": ([*GENERATE, "--spec", "unknown_param.json"], "dot_product: unknown parameter 'depth'"),
    "spec-string-value": ([*GENERATE, "--spec", "string_value.json"], "dot_product.lanes: '8' is not allowed"),
    "spec-bool-value": ([*GENERATE, "--spec", "bool_value.json"], "dot_product.lanes: True is not allowed"),
    "spec-float-value": ([*GENERATE, "--spec", "float_value.json"], "dot_product.lanes: 8.5 is not allowed"),
    "spec-huge-float": ([*GENERATE, "--spec", "huge_float.json"], "dot_product.lanes: inf is not allowed"),
    "spec-nan": ([*GENERATE, "--spec", "nan_value.json"], "dot_product.lanes: nan is not allowed"),
    "spec-zero": ([*GENERATE, "--spec", "zero_value.json"], "dot_product.lanes: 0 is not allowed"),
    "spec-repeated-key": ([*GENERATE, "--spec", "repeated_key.json"], "key 'lanes' is given twice"),
    "spec-bad-choice": (["generate", "xnor", "--spec", "bad_choice.json", "--out", "out"], "xnor.port_bits: 48"),
    "spec-simulate-other-engine": ([*layer(EIE, "dense"), "--spec", "mac_array.json"],
                                   "describes 'mac_array', not 'eie'"),
    # --out
    "out-existing-file": (["generate", "dot_product", "--out", "file.txt"], "'file.txt' exists and is not a directory"),
    "out-under-a-file": (["generate", "dot_product", "--out", "file.txt/sub"], "file.txt' is not a directory"),
    "out-device": (["generate", "dot_product", "--out", "/dev/null"], "'/dev/null' exists and is not a directory"),
    "out-proc": (["generate", "dot_product", "--out", "/proc/accel-out"], "--out: cannot write '/proc/accel-out'"),
    "out-proc-itself": (["generate", "dot_product", "--out", "/proc"], "--out: cannot write '/proc'"),
    "out-sys": (["generate", "dot_product", "--out", "/sys/accel-out"], "--out: cannot write '/sys/accel-out'"),
    "out-empty": (["generate", "dot_product", "--out", ""], "--out: '' is not allowed"),
    "out-name-too-long": (["generate", "dot_product", "--out", "x" * 300], "(File name too long)"),
    # simulate: engine, backend, seed, layer or model
    "simulate-no-engine": (["simulate", "--layer", "conv"], "Missing option '--engine'"),
    "simulate-dot-product": (layer(["simulate", "--engine", "dot_product"], "conv"),
                             "'dot_product' is not an engine with a compiler; expected one of eie, mac_array, xnor"),
    "simulate-unknown-engine": (layer(["simulate", "--engine", "tpu"], "conv"), "'tpu' is not an engine"),
    "simulate-no-layer": (MAC, "give exactly one of --layer"),
    "simulate-layer-and-model": ([*layer(EIE, "dense"), "--model", "digits-mlp"], "give exactly one of --layer"),
    "simulate-model-single-layers": ([*MAC, "--model", "digits-mlp"], "engine 'mac_array' runs single layers only"),
    "simulate-unknown-model": ([*EIE, "--model", "resnet"], "'resnet' is not a model the eie engine runs"),
    "simulate-unknown-bnn": ([*XNOR, "--model", "digits-mlp"], "'digits-mlp' is not a binarized model"),
    "simulate-model-line-break": ([*EIE, "--model", "digits\nmlp"], "'digits\\nmlp' is not a model the eie"),
    "simulate-backend": ([*layer(MAC, "conv"), "--backend", "fpga"], "'fpga' is not one of 'golden', 'perf', 'rtl'"),
    "simulate-seed-negative": ([*layer(MAC, "conv"), "--seed", "-1"], "-1 is not in the range x>=0"),
    "simulate-seed-text": ([*layer(MAC, "conv"), "--seed", "abc"], "'abc' is not a valid integer"),
    "simulate-seed-float": ([*layer(MAC, "conv"), "--seed", "1.5"], "'1.5' is not a valid integer"),
    "simulate-set-twice": ([*layer(MAC, "conv"), "--set", "banks=32", "--set", "banks=64"], "'banks' is set twice"),
    "simulate-bad-set": ([*layer(MAC, "conv"), "--set", "atomic_c=3"], "mac_array.atomic_c: 3 is not allowed"),
    # --layer strings
    "layer-empty": (layer(MAC, ""), "kind '' is not known; expected one of conv, dense, depthwise, pool, add"),
    "layer-unknown-kind": (layer(MAC, "lstm:h=4"), "kind 'lstm' is not known"),
    "layer-kind-case": (layer(MAC, "CONV"), "kind 'CONV' is not known"),
    "layer-semicolon": (layer(MAC, "conv;h=4"), "kind 'conv;h=4' is not known"),
    "layer-line-break": (layer(MAC, "conv\n:h=4"), "kind 'conv\\n' is not known"),
    "layer-unknown-key": (layer(MAC, "conv:x=1"), "'x=1' is not key=value with key one of h, w, c, k"),
    "layer-no-equals": (layer(MAC, "conv:h"), "'h' is not key=value"),
    "layer-no-key": (layer(MAC, "conv:=4"), "'=4' is not key=value"),
    "layer-repeated-key": (layer(MAC, "conv:h=8,h=32"), "h is given twice"),
    "layer-text-value": (layer(MAC, "conv:h=abc"), "h='abc' is not an integer"),
    "layer-float-value": (layer(MAC, "conv:h=1.5"), "h='1.5' is not an integer"),
    "layer-empty-value": (layer(MAC, "conv:h="), "h='' is not an integer"),
    "layer-5000-digits": (layer(MAC, "conv:h=" + "9" * 5000), "is not an integer"),
    "layer-density-text": (layer(EIE, "dense:weight_density=dense"), "weight_density='dense' is not a number"),
    # mac_array layers
    "mac-conv-h-zero": (layer(MAC, "conv:h=0"), "h=0 is not allowed; expected >= 1"),
    "mac-conv-w-negative": (layer(MAC, "conv:w=-3"), "w=-3 is not allowed; expected >= 1"),
    "mac-conv-c-zero": (layer(MAC, "conv:c=0"), "c=0 is not allowed"),
    "mac-conv-k-zero": (layer(MAC, "conv:k=0"), "k=0 is not allowed"),
    "mac-conv-r-zero": (layer(MAC, "conv:r=0"), "r=0 is not allowed"),
    "mac-conv-s-negative": (layer(MAC, "conv:s=-1"), "s=-1 is not allowed; expected >= 0"),
    "mac-conv-pad-negative": (layer(MAC, "conv:pad=-1"), "pad=-1 is not allowed; expected >= 0"),
    "mac-conv-pad-128": (layer(MAC, "conv:c=1,k=1,h=200,w=200,r=200,pad=128"), "padding <= 127 (the Conv command's"),
    "mac-conv-stride-5": (layer(MAC, "conv:stride=5"), "stride 5 is not allowed; expected 1..4"),
    "mac-conv-pad-kernel": (layer(MAC, "conv:r=3,pad=3"), "padding (3, 3) is not allowed; expected 0 <= padding"),
    "mac-conv-kernel-over-input": (layer(MAC, "conv:h=4,w=4,r=7,pad=0"), "kernel 7×7 does not fit the 4×4 input"),
    "mac-conv-groups": (layer(MAC, "conv:c=16,groups=3"), "groups=3 must divide c=16 and k=16"),
    "mac-conv-activation": (layer(MAC, "conv:activation=gelu"), "activation='gelu' is not one of none, relu, relu6"),
    "mac-conv-huge-map": (layer(MAC, "conv:h=100000,w=100000"), "feature map 100000×100000 is not allowed"),
    "mac-conv-h-3000": (layer(MAC, "conv:h=3000"), "expected at most 2048 per side"),
    "mac-conv-reduction": (layer(MAC, "conv:c=100000"), "exceeds mac_array.max_reduction = 65536"),
    "mac-conv-dram": (layer(MAC, "conv:k=1000000000"), "bytes of DRAM; expected at most 2**32"),
    "mac-conv-reduction-set": (layer(MAC, "conv:c=8192"), "--set max_reduction=73728 lifts it"),
    "mac-dense-in-zero": (layer(MAC, "dense:in=0"), "in=0 is not allowed"),
    "mac-dense-out-negative": (layer(MAC, "dense:out=-1"), "out=-1 is not allowed"),
    "mac-dense-reduction": (layer(MAC, "dense:in=2000000"), "exceeds mac_array.max_reduction"),
    "mac-dense-dram": (layer(MAC, "dense:in=1000,out=10000000"), "bytes of DRAM"),
    "mac-depthwise-c-zero": (layer(MAC, "depthwise:c=0"), "c=0 is not allowed"),
    "mac-depthwise-pad": (layer(MAC, "depthwise:r=13,pad=13"), "padding (13, 13) is not allowed"),
    "mac-depthwise-stride": (layer(MAC, "depthwise:stride=9"), "stride 9 is not allowed"),
    "mac-pool-kind": (layer(MAC, "pool:kind=min"), "kind='min' is not one of max, avg"),
    "mac-pool-r-zero": (layer(MAC, "pool:r=0"), "r=0 is not allowed"),
    "mac-pool-stride": (layer(MAC, "pool:stride=5"), "stride 5 is not allowed"),
    "mac-pool-kernel-12": (layer(MAC, "pool:r=12"), "kernel 12×12 is not allowed; expected 1..11"),
    "mac-pool-kernel-over-input": (layer(MAC, "pool:h=4,w=4,r=7"), "kernel 7×7 does not fit the 4×4 input"),
    "mac-pool-pad": (layer(MAC, "pool:r=2,pad=2"), "padding (2, 2) is not allowed"),
    "mac-add-c-zero": (layer(MAC, "add:c=0"), "c=0 is not allowed"),
    "mac-add-h-negative": (layer(MAC, "add:h=-1"), "h=-1 is not allowed"),
    "mac-add-dram": (layer(MAC, "add:c=2000000000"), "bytes of DRAM"),
    "mac-unknown-key-for-kind": (layer(MAC, "dense:h=4"), "'h=4' is not key=value with key one of in, out"),
    # eie layers
    "eie-bias-5": (layer(EIE, "dense:bias=5"), "bias=5 is not allowed; expected 0 (none) or 1"),
    "eie-bias-negative": (layer(EIE, "mlp:bias=-1"), "bias=-1 is not allowed"),
    "eie-in-zero": (layer(EIE, "dense:in=0"), "in=0 is not allowed"),
    "eie-out-zero": (layer(EIE, "dense:out=0"), "out=0 is not allowed"),
    "eie-weight-density": (layer(EIE, "dense:weight_density=2"), "weight_density=2.0 is not allowed"),
    "eie-act-density": (layer(EIE, "dense:act_density=-0.1"), "act_density=-0.1 is not allowed"),
    "eie-density-nan": (layer(EIE, "dense:weight_density=nan"), "weight_density=nan is not allowed"),
    "eie-activation": (layer(EIE, "dense:activation=tanh"), "activation='tanh' is not one of relu, none"),
    "eie-max-cols": (layer(EIE, "dense:in=5000"), "layer 1 has 5000 inputs; expected at most eie.max_cols = 4096"),
    "eie-dram": (layer(EIE, "dense:in=4096,out=10000000"), "bytes of DRAM"),
    "eie-mlp-one-size": (layer(EIE, "mlp:sizes=256"), "sizes='256' is not allowed"),
    "eie-mlp-text": (layer(EIE, "mlp:sizes=a-b"), "sizes='a-b' is not allowed"),
    "eie-mlp-zero": (layer(EIE, "mlp:sizes=256-0-10"), "sizes='256-0-10' is not allowed"),
    "eie-mlp-empty": (layer(EIE, "mlp:sizes="), "sizes='' is not allowed"),
    "eie-mlp-huge": (layer(EIE, "mlp:sizes=100-100000000000"), "bytes of DRAM"),
    "eie-mlp-hidden-max-cols": (layer(EIE, "mlp:sizes=10-5000-10"), "layer 2 has 5000 inputs"),
    "eie-conv": (layer(EIE, "conv:h=4"), "kind 'conv' is not known; expected one of dense, mlp"),
    # xnor layers
    "xnor-h-zero": (layer(XNOR, "conv:h=0"), "h=0 is not allowed"),
    "xnor-kernel": (layer(XNOR, "conv:r=8"), "kernel 8 is not allowed; expected 1..7"),
    "xnor-stride": (layer(XNOR, "conv:stride=5"), "stride 5 is not allowed"),
    "xnor-pad": (layer(XNOR, "conv:pad=3"), "padding 3 is not allowed"),
    "xnor-pad-negative": (layer(XNOR, "conv:pad=-1"), "padding -1 is not allowed"),
    "xnor-pool": (layer(XNOR, "conv:pool=5"), "pool 5 is not allowed; expected 1..4"),
    "xnor-pad-value": (layer(XNOR, "conv:pad_value=0"), "pad value 0 is not allowed; expected +1 or -1"),
    "xnor-input": (layer(XNOR, "conv:input=int4"), "input='int4' is not one of binary, int8"),
    "xnor-output": (layer(XNOR, "conv:output=float"), "output='float' is not one of bits, dot"),
    "xnor-pooled-dot": (layer(XNOR, "conv:output=dot,pool=2"), "pool 2 is not allowed on an integer output"),
    "xnor-kernel-over-input": (layer(XNOR, "conv:h=4,w=4,r=7,pad=0"), "a 4×4 input gives no output with kernel 7"),
    "xnor-huge-map": (layer(XNOR, "conv:h=2000"), "map 2000×8 is not allowed; expected at most 1023"),
    "xnor-reduction": (layer(XNOR, "dense:in=100000"), "exceeds xnor.max_reduction = 4096"),
    "xnor-weight-depth": (layer(XNOR, "conv:k=100000"), "xnor.weight_depth = 1024 is too small"),
    "xnor-threshold-depth": (layer(XNOR, "dense:in=32,out=1000"), "xnor.threshold_depth = 128 is too small"),
    "xnor-input-depth": (layer(XNOR, "conv:h=200,w=200"), "xnor.input_depth = 2048 is too small"),
    "xnor-dense-in-zero": (layer(XNOR, "dense:in=0"), "in=0 is not allowed"),
    "xnor-int8-input-bits": ([*layer(XNOR, "conv:input=int8"), "--set", "input_bits=4"],
                             "input=int8 is not allowed with xnor.input_bits = 4"),
    "xnor-depthwise": (layer(XNOR, "depthwise:c=4"), "kind 'depthwise' is not known; expected one of dense, conv"),
    # compress
    "compress-unknown-model": (["compress", "resnet"], "'resnet' is not a known model"),
    "compress-model-line-break": (["compress", "digits-mlp\n"], "'digits-mlp\\n' is not a known model"),
    "compress-prune-above-1": (["compress", "digits-mlp", "--prune", "1.5"], "prune: 1.5 is not allowed"),
    "compress-prune-negative": (["compress", "digits-mlp", "--prune", "-0.1"], "prune: -0.1 is not allowed"),
    "compress-prune-text": (["compress", "digits-mlp", "--prune", "most"], "'most' is not a valid float"),
    "compress-share-zero": (["compress", "digits-mlp", "--share", "0"], "share: 0 is not allowed"),
    "compress-share-9": (["compress", "digits-mlp", "--share", "9"], "share: 9 is not allowed"),
    "compress-share-float": (["compress", "digits-mlp", "--share", "4.5"], "'4.5' is not a valid integer"),
    "compress-quantize-int4": (["compress", "digits-mlp", "--quantize", "int4"], "'int4' is not 'int8'"),
    "compress-quantize-and-prune": (["compress", "digits-mlp", "--quantize", "int8", "--prune", "0.5"],
                                    "--quantize int8: cannot be combined with --prune"),
    "compress-binarize-and-share": (["compress", "digits-mlp", "--binarize", "--share", "4"],
                                    "binarize: cannot be combined with prune or share"),
    "compress-seed-negative": (["compress", "digits-mlp", "--seed", "-5"], "-5 is not in the range x>=0"),
    # explore: sweeps and workloads, topology rows among them
    "explore-topology-huge": ([*EXPLORE, "--workload", "huge.csv"],
                              "huge.csv:2: layer 'c1': Channels is '1000000000000000000000000000000', expected at most"),
    "explore-topology-stride": ([*EXPLORE, "--workload", "stride.csv"],
                                "stride.csv:2: layer 'c1': Strides is 9, larger than the IFMAP 8x8"),
    "explore-topology-missing": ([*EXPLORE, "--workload", "nosuch.csv"], "nosuch.csv"),
    "explore-unknown-workload": ([*EXPLORE, "--workload", "nosuch"], "--workload 'nosuch': expected a zoo network"),
    "explore-unknown-key": ([*EXPLORE, "--workload", "resnet18", "--sweep", "lanes=1,2"],
                            "--sweep: 'lanes' is neither a mac_array parameter nor a compiler choice"),
    "explore-bad-value": ([*EXPLORE, "--workload", "resnet18", "--sweep", "atomic_c=3"],
                          "mac_array.atomic_c: 3 is not allowed"),
    "explore-bad-objective": ([*EXPLORE, "--workload", "resnet18", "--objectives", "speed"],
                              "--objectives: 'speed' is not allowed"),
    "explore-bad-search": ([*EXPLORE, "--workload", "resnet18", "--search", "random:0"],
                           "--search: 'random:0' is not allowed"),
    "explore-out-is-a-file": (["explore", "mac_array", "--workload", "resnet18", "--out", "file.txt"],
                              "--out: 'file.txt' exists and is not a directory"),
    # compile and run: models, engines, compression, program files
    "run-unknown-model": (["run", "nosuch", "--engine", "eie"], "MODEL: 'nosuch' is not a known model"),
    "run-unknown-engine": (["run", "digits-mlp", "--engine", "tpu"], "'tpu' is not an engine with a network pass"),
    "run-conv-on-eie": (["run", "lenet-5", "--engine", "eie"], "layer 'conv1' (Conv2d): the eie engine runs MLPs"),
    "run-bnn-on-eie": (["run", "digits-bnn-mlp", "--engine", "eie"], "a binarized network runs on xnor"),
    "run-float-on-xnor": (["run", "resnet18", "--engine", "xnor"], "'resnet18': xnor runs binarized networks"),
    "run-no-bnn-counterpart": (["run", "lenet-300-100", "--binarize", "--engine", "xnor"],
                               "has no trained binarized counterpart"),
    "run-topology": (["run", "Resnet18", "--engine", "eie"], "a topology file holds unconnected layer shapes"),
    "run-topology-huge": (["run", "huge.csv", "--engine", "mac_array"], "huge.csv:2: layer 'c1': Channels"),
    "run-onnx-missing": (["run", "nosuch.onnx", "--engine", "eie"], "onnx: cannot read model file 'nosuch.onnx'"),
    "run-backend": (["run", "digits-mlp", "--engine", "eie", "--backend", "fpga"], "'fpga' is not one of"),
    "run-images-zero": (["run", "digits-mlp", "--engine", "eie", "--images", "0"], "0 is not in the range x>=1"),
    "run-prune-above-1": (["run", "digits-mlp", "--engine", "eie", "--prune", "1.5"], "prune: 1.5 is not allowed"),
    "run-share-on-xnor": (["run", "digits-bnn-mlp", "--engine", "xnor", "--share", "4"],
                          "the xnor engine runs ±1 weights"),
    "run-share-5-on-eie": (["run", "lenet-300-100", "--engine", "eie", "--share", "5"], "5 bits is not allowed on eie"),
    "run-binarize-and-prune": (["run", "digits-mlp", "--engine", "xnor", "--binarize", "--prune", "0.5"],
                               "binarize: cannot be combined with prune"),
    "run-calibrate-on-eie": (["run", "digits-mlp", "--engine", "eie", "--calibrate", "digits"],
                             "--calibrate: not on eie"),
    "run-calibrate-bad": (["run", "digits-cnn", "--engine", "mac_array", "--calibrate", "random:0"],
                          "--calibrate: 'random:0' is not allowed"),
    "run-bad-program-file": (["run", "file.txt", "--engine", "eie"], "program file 'file.txt': not an accel program"),
    "compile-no-out": (["compile", "digits-mlp", "--engine", "eie"], "Missing option '--out'"),
    "compile-out-no-folder": (["compile", "digits-bnn-mlp", "--engine", "xnor", "--out", "nodir/net.accel"],
                              "--out: 'nodir/net.accel' is not allowed"),
    "compile-out-is-a-folder": (["compile", "digits-bnn-mlp", "--engine", "xnor", "--out", "."],
                                "--out: '.' is not allowed"),
}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder below ``folder``: its relative path and a hash of its bytes ('dir' for folders)."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))}


def run_case(folder: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, dict, dict]:
    """Run ``accel ARGS`` in a new ``folder`` holding the spec files: (result, snapshot before, after); an
    ``--out`` target outside the folder that did not exist counts as a file in the snapshots."""
    folder.mkdir()
    for name, data in SPEC_FILES.items():
        (folder / name).write_bytes(data)
    out = Path(args[args.index("--out") + 1]) if "--out" in args else None
    outside = out if out is not None and out.is_absolute() and not out.exists() else None
    before = snapshot(folder) | ({str(outside): "absent"} if outside else {})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-m", "accel.cli", *args], cwd=folder, capture_output=True, text=True,
                            env=env, timeout=120)
    return result, before, snapshot(folder) | ({str(outside): "present" if outside.exists() else "absent"}
                                               if outside else {})


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory) -> dict:
    """The outcome of every selected case, run two at a time."""
    selected = [item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and "case" in getattr(getattr(item, "callspec", None), "params", {})]
    root = tmp_path_factory.mktemp("catalog")
    with ThreadPoolExecutor(2) as pool:
        results = pool.map(lambda case: run_case(root / case, CASES[case][0]), selected)
        return dict(zip(selected, results))


def test_catalog_is_large():
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, outcomes):
    result, before, after = outcomes[case]
    complaint = CASES[case][1]
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("accel: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert complaint in result.stderr, result.stderr
    assert after == before, "files changed in the working folder"
