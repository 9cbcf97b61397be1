#!/usr/bin/env bash
# The full soak (tests/soak.rs): 30 minutes, 200,000 scraped series, release
# build. CI runs the same test at its small defaults (120 s, 20,000 series).
# Override the size with FERROPROM_SOAK_SECS / FERROPROM_SOAK_SERIES; the
# figures are printed and written to FERROPROM_SOAK_REPORT.
#
#   benches/soak.sh                              # full size, ~32 min
#   FERROPROM_SOAK_SECS=300 benches/soak.sh      # 5 minutes, same series
set -euo pipefail
cd "$(dirname "$0")/.."
export FERROPROM_SOAK_SECS="${FERROPROM_SOAK_SECS:-1800}"
export FERROPROM_SOAK_SERIES="${FERROPROM_SOAK_SERIES:-200000}"
export FERROPROM_SOAK_REPORT="${FERROPROM_SOAK_REPORT:-$PWD/target/soak-report.txt}"
cargo test --release --test soak -- --exact soak --nocapture
echo "figures written to $FERROPROM_SOAK_REPORT"
