#!/usr/bin/env bash
# Writes fixtures/gnu_tar/{gnu,pax}.tar with GNU tar: WebDataset samples (`.jpg` + `.json` key and label)
# whose member names are longer than tar's 100-character name field, so the archives carry GNU
# `././@LongLink` members (--format=gnu) and pax extended headers (--format=pax). The tar reader
# has to follow them (tests/gnu_tar_test.ts). Run from the repository root:
#   bash scripts/make_tar_fixtures.sh
# Needs GNU tar (`tar --version`); the output is reproducible (fixed owner, mode, time, order).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fixtures/gnu_tar
src=fixtures/pipeline/images/Aaron_Peirsol
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A 120-character folder name, then a short one (both kinds in one archive), and a name with
# non-ASCII characters (pax writes it as a UTF-8 `path` record).
long="identity_$(printf 'x%.0s' $(seq 1 100))_long_folder_name"
mkdir -p "$work/$long" "$work/short" "$work/Zoë_Ångström_$(printf 'y%.0s' $(seq 1 90))"
cp "$src/Aaron_Peirsol_0001.jpg" "$work/$long/Aaron_Peirsol_0001_with_a_long_file_name.jpg"
printf '{"key":"%s","label":3}' "$long/Aaron_Peirsol_0001_with_a_long_file_name" \
  >"$work/$long/Aaron_Peirsol_0001_with_a_long_file_name.json"
cp "$src/Aaron_Peirsol_0002.jpg" "$work/short/b.jpg"
printf '{"key":"short/b","label":5}' >"$work/short/b.json"
uni=$(cd "$work" && ls -d Zo*)
cp "$src/Aaron_Peirsol_0003.jpg" "$work/$uni/c.jpg"
printf '{"key":"%s","label":7}' "$uni/c" >"$work/$uni/c.json"
mkdir -p "$out"
for format in gnu pax; do
  # Regular files only (no directory members), in sorted order, with fixed metadata.
  (cd "$work" && find . -type f | LC_ALL=C sort | sed 's|^\./||') >"$work.list"
  pax=()
  [ "$format" = pax ] && pax=(--pax-option=delete=atime,delete=ctime,exthdr.name=%d/PaxHeaders/%f)
  tar --format="$format" "${pax[@]}" --owner=0 --group=0 --numeric-owner --mode=0644 \
    --mtime='2026-01-01 00:00:00Z' -C "$work" --no-recursion -T "$work.list" -cf "$out/$format.tar"
done
rm -f "$work.list"
tar --version | head -1
ls -l "$out"
