#!/usr/bin/env bash
# System packages the test suite needs beyond PostgreSQL and Redis (.ci/services.sh):
# GStreamer's RTSP server for the system Python, which tests/cameras/test_sources_rtsp.py
# runs on loopback as a real camera stream (H.264 over RTSP). Installs only what is
# missing, quietly; safe to run on every test run. Root, or sudo.
set -euo pipefail
packages=(
  python3-gi                   # the system Python's GObject bindings
  gir1.2-gst-rtsp-server-1.0   # GstRtspServer, and GStreamer itself
  gstreamer1.0-plugins-base    # appsrc, videoconvert
  gstreamer1.0-plugins-good    # rtph264pay
  gstreamer1.0-plugins-ugly    # x264enc
  gstreamer1.0-tools           # gst-inspect-1.0
)
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
echo "Installing ${missing[*]} ..." >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
