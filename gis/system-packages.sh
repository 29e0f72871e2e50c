#!/usr/bin/env bash
# Install the system packages gridgov needs on Debian/Ubuntu: PostgreSQL + PostGIS (unless
# DATABASE_URL points at a database elsewhere), Python's venv module and npm, which fetches the
# browser assets (Leaflet and its plugins) from the npm registry so no page needs a CDN.
# With --browser it also wants Chromium and CJK fonts: the tests drive the pages headless.
# As root it installs what is missing with apt-get; otherwise it names the packages to install.
set -euo pipefail

missing=()
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  missing+=("chromium")
fi
# Chinese glyphs for the pages' screenshots kept by the browser tests.
if [ "${1:-}" = "--browser" ] && ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  missing+=("cjk-fonts")
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing+=("python3-venv")
fi
if ! command -v npm >/dev/null 2>&1; then
  missing+=("npm")
fi
if [ -z "${DATABASE_URL:-}" ]; then
  pg_ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pg_ctl" ]; then
    missing+=("postgresql")
    pg_major=""
  else
    pg_major=$(basename "$(dirname "$(dirname "$pg_ctl")")")
  fi
  if [ -z "$pg_major" ] || [ ! -f "/usr/share/postgresql/$pg_major/extension/postgis.control" ]; then
    missing+=("postgis")
  fi
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "gridgov needs these system packages: ${missing[*]}." >&2
  echo "Install them with: sudo apt-get install ${missing[*]/postgis/postgresql-15-postgis-3}" >&2
  echo "(use the postgresql-N-postgis-3 matching your PostgreSQL N), or set DATABASE_URL." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "Installing system packages (${missing[*]}) with apt-get …"
apt-get update -qq
packages=()
for m in "${missing[@]}"; do
  case "$m" in
    python3-venv) packages+=(python3-venv) ;;
    chromium) packages+=(chromium) ;;
    cjk-fonts) packages+=(fonts-noto-cjk) ;;
    npm) packages+=(nodejs npm) ;;
    postgresql) ;;  # chosen together with PostGIS below
    postgis) ;;
  esac
done
if [[ " ${missing[*]} " == *" postgis "* ]]; then
  # The distribution's default major version (15 on Debian 12, 16 on Ubuntu 24.04 …).
  major=${pg_major:-$(apt-cache depends postgresql 2>/dev/null \
    | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$/\1/p' | head -n 1)}
  major=${major:-15}
  packages+=("postgresql-$major" "postgresql-$major-postgis-3")
fi
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# Debian starts a system cluster on port 5432; gridgov uses its own and leaves that one alone.
echo "Installed: ${packages[*]}"
