#!/usr/bin/env python3
"""Builds the LGX package of demls_module from a built module image.

Follows the LGX spec (logos-co/logos-package docs/spec.md, manifest schema 0.3.0):
  demls_module.lgx (tar.gz)
  ├── manifest.json                 manifestVersion, name, version, description, author, type,
  │                                 category, icon, dependencies, main, hashes, display_name
  ├── docs/                         the LIDL contract and the delivery_module LIDL subset
  └── variants/<os-arch>/           libdemls_module.so (main), metadata.json, the LIDL
Deterministic: entries sorted by path, USTAR headers with uid=gid=0, empty uname/gname,
mtime=0, directories 0755, files 0644; gzip header mtime=0, no file name, OS byte 0xff.
Content hashes (the spec's Merkle tree) are recomputed into manifest.json.

usage: build-lgx.py --image PATH [--out PATH] [--variant linux-amd64] [--module-dir DIR]
Only the Python standard library is used.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import sys
import tarfile
import unicodedata

MANIFEST_VERSION = "0.3.0"


def default_variant():
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return f"{system}-{arch}"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def leaf_hash(files, prefix):
    """The spec's leaf directory hash over the files under `prefix/`."""
    rows = []
    for path, data in files.items():
        if path.startswith(prefix + "/"):
            rows.append((path[len(prefix) + 1 :], sha256_hex(data)))
    if not rows:
        return None
    rows.sort()
    blob = b"".join(p.encode() + b"\0" + h.encode() + b"\n" for p, h in rows)
    return sha256_hex(blob)


def parent_hash(children):
    blob = b"".join(
        name.encode() + b"\0" + h.encode() + b"\n" for name, h in sorted(children.items())
    )
    return sha256_hex(blob)


def content_hashes(files):
    """The spec's Merkle tree over every file but manifest.json / manifest.sig."""
    files = {p: d for p, d in files.items() if p not in ("manifest.json", "manifest.sig")}
    hashes, top = {}, {}
    for top_dir in sorted({p.split("/", 1)[0] for p in files if "/" in p}):
        if top_dir == "variants":
            variants = {}
            for v in sorted({p.split("/")[1] for p in files if p.startswith("variants/")}):
                h = leaf_hash(files, "variants/" + v)
                if h:
                    variants[v] = h
                    hashes["variants/" + v] = h
            if variants:
                hashes["variants"] = top["variants"] = parent_hash(variants)
        else:
            h = leaf_hash(files, top_dir)
            if h:
                hashes[top_dir] = top[top_dir] = h
    if top:
        hashes["root"] = parent_hash(top)
    return hashes


def manifest_text(manifest):
    # Sorted keys, 2-space indent, UTF-8 as is: the form lgx itself writes.
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False)


def tar_bytes(files):
    dirs = set()
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    entries = [(d + "/", None) for d in dirs] + [(p, d) for p, d in files.items()]
    entries.sort(key=lambda e: unicodedata.normalize("NFC", e[0]).encode())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(unicodedata.normalize("NFC", name.rstrip("/")))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def gzip_bytes(data):
    # mtime 0 and no file name; the OS byte (offset 9, outside every checksum) is set to
    # 0xff (unknown), which gzip.compress leaves to the platform.
    packed = bytearray(gzip.compress(data, compresslevel=6, mtime=0))
    packed[9] = 0xFF
    return bytes(packed)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def build(image, out, variant, module_dir):
    metadata = json.loads(read(os.path.join(module_dir, "metadata.json")))
    lidl_rel = metadata.get("codegen", {}).get("lidl", "demls_module.lidl")
    deps = {
        name: o["file"]
        for name, o in metadata.get("dependency_overrides", {}).items()
        if "file" in o
    }
    main_file = os.path.basename(image)
    files = {}
    vdir = "variants/" + variant
    files[f"{vdir}/{main_file}"] = read(image)
    files[f"{vdir}/metadata.json"] = read(os.path.join(module_dir, "metadata.json"))
    files[f"{vdir}/{os.path.basename(lidl_rel)}"] = read(os.path.join(module_dir, lidl_rel))
    for rel in deps.values():
        files[f"{vdir}/{rel}"] = read(os.path.join(module_dir, rel))
    files[f"docs/{os.path.basename(lidl_rel)}"] = read(os.path.join(module_dir, lidl_rel))
    for rel in deps.values():
        files[f"docs/{rel}"] = read(os.path.join(module_dir, rel))
    readme = os.path.join(module_dir, "README.md")
    if os.path.exists(readme):
        files["docs/README.md"] = read(readme)

    manifest = {
        "manifestVersion": MANIFEST_VERSION,
        "name": metadata["name"].lower(),
        "version": metadata["version"],
        "description": metadata.get("description", ""),
        "author": metadata.get("author", ""),
        "type": metadata.get("type", ""),
        "category": metadata.get("category", ""),
        "icon": metadata.get("icon", ""),
        "dependencies": metadata.get("dependencies", []),
        "main": {variant: main_file},
        "hashes": content_hashes(files),
    }
    if metadata.get("display_name"):
        manifest["display_name"] = metadata["display_name"]
    files["manifest.json"] = manifest_text(manifest).encode()
    package = gzip_bytes(tar_bytes(files))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        f.write(package)
    return manifest


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image", required=True, help="the built libdemls_module.so")
    parser.add_argument("--out", default="demls_module.lgx")
    parser.add_argument("--variant", default=default_variant())
    parser.add_argument("--module-dir", default=os.path.join(here, ".."))
    args = parser.parse_args()
    manifest = build(args.image, args.out, args.variant.lower(), args.module_dir)
    print(f"{args.out}: {manifest['name']} {manifest['version']} "
          f"variant {args.variant} root {manifest['hashes']['root']}")


if __name__ == "__main__":
    main()
