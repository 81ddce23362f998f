#!/usr/bin/env python3
"""The machine code V8 made of a wasm function, with where the time went.

    node --experimental-wasm-relaxed-simd --perf-prof --prof --logfile=v8.log \\
        --no-logfile-per-isolate bench/ab.mjs --op conv --shape "dw128x56x56 k3s1p1" \\
        --a bench/pkg-relaxed/wasmnn.js --b bench/pkg-relaxed/wasmnn.js --samples 200
    python3 bench/tools/v8code.py jit-PID.dump padded_plane [--log v8.log] [--top 40]

`--perf-prof` makes V8 write every function it compiles, code bytes included, to
`jit-PID.dump` (perf's jitdump format) in the working directory; this finds the optimised
(TurboFan) code of the functions whose name matches the pattern and disassembles it with
objdump. With `--log`, the log of `--prof` from the same run, each instruction gets the
number of profiler ticks that landed on it. What to look for: `[rbp-...]` operands inside a
hot loop are spills; a loop body that loads everything before its arithmetic holds all those
loads in registers at once.
"""
import argparse
import collections
import re
import struct
import subprocess
import sys
import tempfile


def functions(dump, pattern):
    """(address, code bytes, name) of each TurboFan function in the jitdump matching pattern."""
    data = open(dump, 'rb').read()
    _magic, _version, header = struct.unpack_from('<III', data, 0)
    off = header
    while off + 16 <= len(data):
        kind, size, _ts = struct.unpack_from('<IIQ', data, off)
        if size == 0:
            break
        if kind == 0:  # JIT_CODE_LOAD: pid, tid, vma, code_addr, code_size, code_index, name, code
            _pid, _tid, _vma, addr, length, _index = struct.unpack_from('<IIQQQQ', data, off + 16)
            start = off + 56
            end = data.index(b'\0', start)
            name = data[start:end].decode(errors='replace')
            if name.endswith('-turbofan') and re.search(pattern, name):
                yield addr, data[end + 1:end + 1 + length], name
        off += size


def ticks(log):
    """Program counters of the `tick` lines of a V8 --prof log."""
    for line in open(log, errors='replace'):
        if line.startswith('tick,'):
            yield int(line.split(',')[1], 16)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('dump', help='jit-PID.dump written by node --perf-prof')
    ap.add_argument('pattern', help='regular expression on the function name')
    ap.add_argument('--log', help='the --prof log of the same run: ticks per instruction')
    ap.add_argument('--top', type=int, default=0, help='print only the N hottest instructions')
    args = ap.parse_args()
    found = list(functions(args.dump, args.pattern))
    if not found:
        sys.exit(f'no TurboFan function matching {args.pattern!r} in {args.dump}')
    pcs = list(ticks(args.log)) if args.log else []
    for addr, code, name in found:
        hist = collections.Counter(pc - addr for pc in pcs if addr <= pc < addr + len(code))
        with tempfile.NamedTemporaryFile(suffix='.bin') as f:
            f.write(code)
            f.flush()
            dis = subprocess.run(['objdump', '-D', '-b', 'binary', '-m', 'i386:x86-64', '-M',
                                  'intel', f.name], capture_output=True, text=True, check=True).stdout
        rows = []
        for line in dis.splitlines():
            m = re.match(r'\s*([0-9a-f]+):\s*(?:[0-9a-f]{2} )+\s*(.*)', line)
            if m:
                at = int(m.group(1), 16)
                rows.append((hist.get(at, 0), at, m.group(2)))
        spills = sum(1 for _, _, text in rows if 'rbp-' in text)
        print(f'== {name}: {len(code)} bytes, {len(rows)} instructions, {spills} with [rbp-...], '
              f'{sum(hist.values())} ticks')
        shown = sorted(rows, reverse=True)[:args.top] if args.top else rows
        for n, at, text in shown:
            print(f'{n:6d} {at:6x}  {text}')


if __name__ == '__main__':
    main()
