#!/usr/bin/env python3
"""Writes the seed corpora (git-ignored) for the fuzz targets. corpus/load/:
every YAML file under ../configs, each base file joined by a NUL byte to the
overlay of the same name, all base files concatenated, and hand-written tricky
inputs. corpus/compose_import/: each compose fixture under
../compose/tests/fixtures, alone, with its .env after a NUL, and with an
override file after a second NUL. corpus/envfile/: every env file there and
odd lines. Run from fuzz/: python3 make-seeds.py"""
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

# compose_import: compose file, NUL, .env, NUL, override file.
fixtures = here.parent / "compose" / "tests" / "fixtures"
compose_out = here / "corpus" / "compose_import"
compose_out.mkdir(parents=True, exist_ok=True)
env_out = here / "corpus" / "envfile"
env_out.mkdir(parents=True, exist_ok=True)
override = b"services:\n  app:\n    environment: [EXTRA=1]\n    ports: !reset []\n"
compose_seeds = []
env_seeds = []
for d in sorted(p for p in fixtures.iterdir() if p.is_dir()):
    compose = (d / "docker-compose.yml").read_bytes()
    dotenv = (d / ".env").read_bytes() if (d / ".env").is_file() else b""
    compose_seeds += [compose, compose + b"\0" + dotenv, compose + b"\0" + dotenv + b"\0" + override]
    env_seeds += [p.read_bytes() for p in sorted(d.iterdir()) if p.name.endswith(".env") or p.name == ".env"]
compose_seeds += [
    b"services:\n  a:\n    image: x:${TAG:-1}\n    env_file: [missing.env, /dev/null]\n\0TAG=2\n",
    b"x-base: &b {image: y, restart: always}\nservices:\n  a: {<<: *b, ports: [\"80-90:80-90/udp\", \"[::1]:1:2\"]}\n",
    b"version: '2.4'\nservices:\n  a:\n    build: {context: ., args: [A=$$B]}\n    depends_on: {b: {condition: service_healthy}}\n  b:\n    image: b\n    healthcheck: {test: x, interval: 1m30s}\n",
    b"services: []\n",
    b"name: ${N:?required}\nservices: {}\n",
]
env_seeds += [
    b"A=1\nexport B=\"two words\"\n# c\nC='x=y'\n=novalue\nD=\nE==\n\"\n'\nexport \n",
    b"\r\n\t K \t= \"\" \r\n\xef\xbb\xbfZ=1\n",
]
for out_dir, items in ((compose_out, compose_seeds), (env_out, env_seeds)):
    for s in items:
        (out_dir / hashlib.sha1(s).hexdigest()).write_bytes(s)
    print(f"wrote {len(items)} seeds to {out_dir}")
