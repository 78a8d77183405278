#!/usr/bin/env python3
"""Writes the Unicode normalization table that Toolkit.Data's tokenizers embed (NFC/NFD/NFKC/NFKD without ICU).

Input: the Unicode Character Database as Debian's package unicode-data installs it (/usr/share/unicode).
Output: src/Toolkit.Data/Text/Tokenization/Normalizers/unicode-normalization.txt.gz, one line per code point
that has a non-zero canonical combining class or a decomposition:
    CODEPOINT CCC [c|k|x] DECOMPOSITION...   (hex; c = canonical, k = compatibility, x = canonical but
                                              excluded from composition (Full_Composition_Exclusion))
The first line names the Unicode version.
Usage: python3 scripts/make_unicode_normalization_data.py [UCD_DIR]
"""
import gzip
import os
import re
import sys

ucd = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "src/Toolkit.Data/Text/Tokenization/Normalizers/unicode-normalization.txt.gz")

excluded = set()
with open(os.path.join(ucd, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
    for line in f:
        line = line.split("#")[0].strip()
        if not line:
            continue
        fields = [x.strip() for x in line.split(";")]
        if fields[1] != "Full_Composition_Exclusion":
            continue
        lo, _, hi = fields[0].partition("..")
        for cp in range(int(lo, 16), int(hi or lo, 16) + 1):
            excluded.add(cp)

version = "unknown"
with open(os.path.join(ucd, "ReadMe.txt"), encoding="utf-8", errors="replace") as f:
    m = re.search(r"Version (\d+\.\d+\.\d+)", f.read())
    if m:
        version = m.group(1)

rows = []
with open(os.path.join(ucd, "UnicodeData.txt"), encoding="utf-8") as f:
    for line in f:
        fields = line.rstrip("\n").split(";")
        cp = int(fields[0], 16)
        ccc = int(fields[3])
        decomp = fields[5]
        if ccc == 0 and not decomp:
            continue
        kind, parts = "c", []
        if decomp:
            parts = decomp.split()
            if parts[0].startswith("<"):
                kind, parts = "k", parts[1:]
            elif cp in excluded:
                kind = "x"
        rows.append(f"{cp:X} {ccc} {kind} {' '.join(parts)}".rstrip())

with gzip.open(out, "wt", encoding="ascii", compresslevel=9) as f:
    f.write(f"Unicode {version}\n")
    f.write("\n".join(rows) + "\n")
print(f"{out}: {len(rows)} code points, Unicode {version}")
