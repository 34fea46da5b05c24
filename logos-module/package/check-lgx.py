#!/usr/bin/env python3
"""Checks an .lgx package against the LGX spec (logos-co/logos-package docs/spec.md).

Checks: a gzip'd USTAR tar with a deterministic gzip header (mtime 0, no file name, OS 0xff);
only manifest.json, manifest.sig, manifest.cose, variants/, docs/, licenses/ at the root; no
file directly under variants/; entries sorted, uid/gid 0, empty uname/gname, mtime 0,
directories 0755 and files 0644, regular files and directories only; safe NFC paths; every
required manifest field present and typed, manifestVersion 0.x; lowercase variant keys; every
main entry a regular file in its variant and every variant with a main entry; the content
hashes (Merkle tree) recomputed equal to the manifest's.

usage: check-lgx.py PACKAGE [--expect-name NAME] [--expect-variant VARIANT]
Prints "ok" and exits 0, or prints each violation and exits 1.
"""

import argparse
import gzip
import io
import json
import os
import sys
import tarfile
import unicodedata

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module  # noqa: E402

build = import_module("build-lgx")

ROOT_ALLOWED = {"manifest.json", "manifest.sig", "manifest.cose", "variants", "docs", "licenses"}
REQUIRED = {
    "manifestVersion": str, "name": str, "version": str, "description": str, "author": str,
    "type": str, "category": str, "icon": str, "dependencies": list, "main": dict,
}


def check(path, expect_name=None, expect_variant=None):
    errors = []
    raw = open(path, "rb").read()
    if raw[:2] != b"\x1f\x8b":
        return ["not a gzip file"]
    flags, mtime, os_byte = raw[3], raw[4:8], raw[9]
    if flags & 0x08:
        errors.append("gzip header carries a file name")
    if mtime != b"\0\0\0\0":
        errors.append("gzip header mtime is not 0")
    if os_byte != 0xFF:
        errors.append(f"gzip OS byte is {os_byte:#x}, not 0xff")
    tar_data = gzip.decompress(raw)
    names, files = [], {}
    with tarfile.open(fileobj=io.BytesIO(tar_data), mode="r:") as tar:
        for m in tar.getmembers():
            name = m.name
            names.append(name + ("/" if m.isdir() else ""))
            if not (m.isfile() or m.isdir()):
                errors.append(f"{name}: forbidden entry type")
            if name.startswith("/") or "\\" in name or ".." in name.split("/") or not name:
                errors.append(f"{name}: unsafe path")
            if unicodedata.normalize("NFC", name) != name:
                errors.append(f"{name}: not NFC")
            if (m.uid, m.gid, m.uname, m.gname, m.mtime) != (0, 0, "", "", 0):
                errors.append(f"{name}: non-deterministic metadata")
            if m.isdir() and m.mode != 0o755:
                errors.append(f"{name}: directory mode {m.mode:o}")
            if m.isfile() and m.mode != 0o644:
                errors.append(f"{name}: file mode {m.mode:o}")
            top = name.split("/", 1)[0]
            if top not in ROOT_ALLOWED:
                errors.append(f"{name}: not allowed at the package root")
            parts = name.split("/")
            if parts[0] == "variants" and len(parts) == 2 and m.isfile():
                errors.append(f"{name}: a file directly under variants/")
            if m.isfile():
                files[name] = tar.extractfile(m).read()
    if names != sorted(names, key=lambda n: n.encode()):
        errors.append("entries are not sorted by path")
    if "manifest.json" not in files:
        return errors + ["manifest.json is missing"]
    manifest = json.loads(files["manifest.json"])
    for field, kind in REQUIRED.items():
        if not isinstance(manifest.get(field), kind):
            errors.append(f"manifest field {field} missing or not a {kind.__name__}")
    if not str(manifest.get("manifestVersion", "")).startswith("0."):
        errors.append("unsupported manifestVersion")
    if manifest.get("name") != str(manifest.get("name", "")).lower():
        errors.append("name is not lowercase")
    variants = {n.split("/")[1] for n in names if n.startswith("variants/") and n.count("/") >= 2
                and n.split("/")[1]}
    main = manifest.get("main", {})
    for v, rel in main.items():
        if v != v.lower():
            errors.append(f"variant key {v} is not lowercase")
        if rel.startswith("/") or ".." in rel.split("/"):
            errors.append(f"main entry {rel} is not a safe relative path")
        if f"variants/{v}/{rel}" not in files:
            errors.append(f"main entry variants/{v}/{rel} is not a regular file in the package")
    if set(main) != variants:
        errors.append(f"variants {sorted(variants)} do not match main {sorted(main)}")
    if manifest.get("hashes") != build.content_hashes(files):
        errors.append("content hashes do not match the package content")
    if files["manifest.json"].decode() != build.manifest_text(manifest):
        errors.append("manifest.json is not in canonical form (sorted keys, 2-space indent)")
    if expect_name and manifest.get("name") != expect_name:
        errors.append(f"name is {manifest.get('name')}, expected {expect_name}")
    if expect_variant and expect_variant not in main:
        errors.append(f"no {expect_variant} variant")
    return errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("package")
    parser.add_argument("--expect-name")
    parser.add_argument("--expect-variant")
    args = parser.parse_args()
    errors = check(args.package, args.expect_name, args.expect_variant)
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
