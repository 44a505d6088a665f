"""The real upstream files the role scripts edit, fetched at test time (never committed).

Files land in .cache/upstream/ (gitignored) and are fetched once. The package index is the one
pip is configured with on this machine; pip resolves the distribution's file, then:
- a source distribution is downloaded whole and the member is read from the tarball;
- a wheel is read with HTTP range requests: a wheel is a zip, so only its central directory and
  the one member are transferred (torch's 766 MB wheel costs well under a megabyte).
"""
import io
import json
import os
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CACHE = os.path.join(ROOT, ".cache", "upstream")


def _pip_url(requirement, options):
    """The URL of the file pip would install for requirement (resolved, not downloaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
             "--no-deps", "--report", report] + options + [requirement],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
            timeout=600)
        if proc.returncode != 0:
            raise RuntimeError("pip could not resolve %s:\n%s" % (requirement, proc.stdout[-3000:]))
        with open(report, encoding="utf-8") as handle:
            items = json.load(handle)["install"]
    return items[0]["download_info"]["url"]


def _context():
    cafile = os.environ.get("PIP_CERT") or None
    return ssl.create_default_context(cafile=cafile)


class _HttpRangeFile(io.RawIOBase):
    """A read-only, seekable file over HTTP range requests (enough for zipfile)."""

    def __init__(self, url):
        super().__init__()
        self.url = url
        self.pos = 0
        head = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(head, context=_context(), timeout=120) as response:
            self.size = int(response.headers["Content-Length"])
            if response.headers.get("Accept-Ranges") != "bytes":
                raise RuntimeError("%s does not serve byte ranges" % url)

    def seekable(self):
        return True

    def readable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.size - self.pos
        size = min(size, self.size - self.pos)
        if size <= 0:
            return b""
        request = urllib.request.Request(
            self.url, headers={"Range": "bytes=%d-%d" % (self.pos, self.pos + size - 1)})
        with urllib.request.urlopen(request, context=_context(), timeout=300) as response:
            if response.status != 206:
                raise RuntimeError("%s ignored the range request" % self.url)
            data = response.read()
        self.pos += len(data)
        return data

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def wheel_member(requirement, member, options=()):
    """The text of member inside the wheel pip resolves for requirement."""
    target = os.path.join(CACHE, requirement.replace("==", "-"), member)
    if not os.path.exists(target):
        url = _pip_url(requirement, ["--only-binary", ":all:"] + list(options))
        with zipfile.ZipFile(io.BufferedReader(_HttpRangeFile(url), buffer_size=1 << 20)) as wheel:
            data = wheel.read(member)
        _store(target, data)
    with open(target, encoding="utf-8") as handle:
        return handle.read(), target


def sdist_member(requirement, member, options=()):
    """The text of member (path below the top directory) of requirement's source distribution."""
    target = os.path.join(CACHE, requirement.replace("==", "-"), member)
    if not os.path.exists(target):
        url = _sdist_url(requirement, list(options))
        with urllib.request.urlopen(url, context=_context(), timeout=600) as response:
            blob = response.read()
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            top = tar.getnames()[0].split("/")[0]
            data = tar.extractfile("%s/%s" % (top, member)).read()
        _store(target, data)
    with open(target, encoding="utf-8") as handle:
        return handle.read(), target


def _sdist_url(requirement, options):
    """The sdist link pip finds for requirement, read from its verbose log.

    `pip download` would build the sdist's metadata, which for these projects needs their own
    build dependencies; the link is all that is needed here.
    """
    name = requirement.split("==")[0].lower().replace("_", "-")
    version = requirement.split("==")[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-vvv", "--no-cache-dir", "--no-deps",
             "--no-binary", ":all:", "--no-build-isolation", "-d", tmp] + options + [requirement],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
            timeout=600, env=dict(os.environ, PIP_CONSTRAINT=""))
    for line in proc.stdout.splitlines():
        if "Found link " not in line:
            continue
        link = line.split("Found link ", 1)[1].split()[0]
        filename = urllib.parse.unquote(link.split("#")[0].rsplit("/", 1)[-1])
        if not filename.endswith(".tar.gz"):
            continue
        stem = filename[:-len(".tar.gz")].lower().replace("_", "-")
        if stem == "%s-%s" % (name, version):
            return link.split("#")[0]
    raise RuntimeError("pip found no source distribution of %s:\n%s"
                       % (requirement, proc.stdout[-3000:]))


def _store(target, data):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target + ".part", "wb") as handle:
        handle.write(data)
    os.replace(target + ".part", target)
