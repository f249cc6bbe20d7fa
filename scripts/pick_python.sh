# Sourced by the side-venv scripts: pick_python X.Y prints the first interpreter of version X.Y
# that actually runs. A pyenv shim on PATH may name a version that is not installed (it then
# fails when run), so every candidate is tried, not just found.
pick_python() {
  local want=$1 c
  for c in ${PICK_PYTHON:-} "$(command -v "python$want" 2>/dev/null)" /usr/bin/python"$want" \
           /usr/local/bin/python"$want" "$HOME"/.pyenv/versions/"$want"*/bin/python3; do
    [ -n "$c" ] && [ -x "$c" ] || continue
    if "$c" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  echo "no working python$want found (set PICK_PYTHON to one)" >&2
  return 1
}
