#!/bin/sh
# A local base image for deploy/Dockerfile where Docker Hub is out of reach: Debian 12 (bookworm)
# with python3 and python3-venv, made by debootstrap from a Debian mirror. Needs root, debootstrap
# and a Docker engine:
#   sudo apt-get install -y debootstrap
#   sudo deploy/local-base-image.sh                   # tags errand-base:bookworm-python3
#   docker build --build-arg BASE=errand-base:bookworm-python3 -f deploy/Dockerfile -t errandbot .
#   ERRAND_IMAGE_BASE=errand-base:bookworm-python3 .venv/bin/pytest tests/deploy/test_image.py
set -eu
TAG=${1:-errand-base:bookworm-python3}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=$(mktemp -d)
trap 'rm -rf "$ROOTFS"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata \
    bookworm "$ROOTFS" "$MIRROR"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
# The host's trusted certificates, so that pip reaches PyPI during the build from behind a
# TLS-inspecting proxy too (on an ordinary host they are the same Debian bundle).
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
tar -C "$ROOTFS" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    - "$TAG"
echo "made $TAG"
