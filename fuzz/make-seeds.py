#!/usr/bin/env python3
"""Writes the seed corpus for the `load` target into corpus/load/ (git-ignored):
every YAML file under ../configs, each base file joined by a NUL byte to the
overlay of the same name, all base files concatenated, and hand-written tricky
inputs. Run from fuzz/: python3 make-seeds.py"""
import hashlib, pathlib

here = pathlib.Path(__file__).resolve().parent
configs = here.parent / "configs"
out = here / "corpus" / "load"
out.mkdir(parents=True, exist_ok=True)
seeds = []

files = sorted(p for p in configs.rglob("*") if p.suffix in (".yaml", ".yml"))
bases = [p for p in files if "overlays" not in p.parts]
overlays = [p for p in files if "overlays" in p.parts]
for p in files:
    seeds.append(p.read_bytes())
for o in overlays:
    for b in bases:
        if b.name == o.name:
            seeds.append(b.read_bytes() + b"\0" + o.read_bytes())
seeds.append(b"".join(b.read_bytes() for b in bases))

H = b"apiVersion: lucid/v1alpha1\n"
svc = H + b"kind: Service\nmetadata: {name: api}\nspec:\n  image: app\n"
tricky = [
    b"",
    b"\0",
    b"---\n---\n...\n",
    b"[" * 200 + b"]" * 200,
    b"{a: " * 100 + b"1" + b"}" * 100,
    b"- " * 100 + b"x\n",
    # aliases, a small bomb, an unknown alias, recursion through an anchor
    b"a: &x [1, 2]\nb: *x\n",
    b"a0: &a0 [x, x, x, x, x, x, x, x]\n" + b"".join(b"a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n" % ((i, i) + (i - 1,) * 8) for i in range(1, 8)),
    b"a: *nope\n",
    b"a: &x {b: *x}\n",
    # tabs, odd scalars, huge numbers, duplicate keys, keys that are collections
    H + b"kind: Network\nmetadata:\n\tname: x\n",
    svc + b"  ports: [{containerPort: 99999999999999999999999999}, {containerPort: -1}, {containerPort: 1e400}, {containerPort: 0x10}, {containerPort: .inf}]\n",
    svc + b"  resources: {memory: 99999999999999999999Ti, cpus: 1e308, pidsLimit: -9223372036854775808}\n",
    svc + b"  stopGracePeriod: 99999999999999999999h\n  healthcheck: {test: [CMD], interval: 4294967296s, retries: 4294967296}\n",
    H + b"kind: Network\nkind: Volume\nmetadata: {name: x}\n",
    b"? [a, b]\n: c\n",
    b"{[1]: 2}\n",
    H + b"kind: Network\nmetadata: {name: x}\nspec: {subnet: 10.0.0.0/8, gateway: 10.0.0.1}\n---\n" + H + b"kind: Network\nmetadata: {name: y}\nspec: {subnet: 10.0.0.0/9, gateway: 10.255.255.255}\n",
    # overlays: patch, delete, delete of something absent, bad $patch, null deletes
    svc + b"\0" + H + b"kind: Service\nmetadata: {name: api}\nspec: {image: null, env: {A: null}}\n---\n" + H + b"kind: Service\nmetadata: {name: api}\n$patch: delete\n",
    svc + b"\0" + H + b"kind: Job\nmetadata: {name: nope}\n$patch: delete\n---\n" + H + b"kind: Service\nmetadata: {name: api}\n$patch: [1]\n",
    svc + b"\0" + b"\0" + svc,
    # references, cycles, placeholders, paths, isolation
    svc + b"  dependsOn: [{name: api}]\n  envFrom: [{secretSet: s}]\n  mounts: [{volume: v, configFile: c, target: rel}]\n  env: {A: \"${B}\", \"1X\": \"${\"}\n",
    H + b"kind: IsolationPolicy\nmetadata: {name: iso}\nspec: {network: n, members: [api], forbidden: [{paths: [/, ../../.., src], patterns: [\"\", x]}], requiredPaths: [/etc, ..]}\n---\n" + svc + b"  networks: [{name: n}, {name: m, ipv4Address: 255.255.255.255}]\n",
    H + b"kind: Image\nmetadata: {name: i}\nspec: {ref: \"a@sha256:\", build: {context: ../.., dockerfile: /etc/passwd}, platform: linux/arm/v7/x}\n---\n" + H + b"kind: ConfigFile\nmetadata: {name: c}\nspec: {file: /etc/passwd, mode: \"77777\"}\n",
    H + b"kind: SecretSet\nmetadata: {name: s}\nspec: {file: ../.env, generate: [{key: K, bytes: 4294967295, encoding: hex}], values: {K: v}}\n",
    "kind: Sérvice\nmetadata: {name: ü}\n\u00a0: \ufeff\n".encode(),
    b"\xff\xfe" + svc,
    b"%YAML 1.2\n%TAG ! tag:x,2000:\n--- !foo\n!!str a: !!int b\n",
    b"a: |\n  x\n b: >-\n",
    b"'unterminated\n",
]
seeds += tricky
for s in seeds:
    (out / hashlib.sha1(s).hexdigest()).write_bytes(s)
print(f"wrote {len(seeds)} seeds to {out}")
