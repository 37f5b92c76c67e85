"""Weight downloads: offline fails in one line, resumable with HTTP Range, sha256 enforced.
Everything runs against 127.0.0.1 (a local http.server with Range support): no internet needed."""
import hashlib
import http.server
import socket
import threading

import pytest

from motionseg_trt.cli.main import main as cli_main
from motionseg_trt.download import fetch
from motionseg_trt.errors import ModelFileError, UnavailableError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = PAYLOAD
    honour_range = True
    log = []

    def log_message(self, *a):
        pass

    def do_GET(self):  # noqa: N802
        rng = self.headers.get("Range")
        type(self).log.append(rng)
        data = self.payload
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    RangeHandler.log = []
    RangeHandler.honour_range = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/w.bin"
    httpd.shutdown()
    httpd.server_close()


def unreachable_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens on this port now
    return f"http://127.0.0.1:{port}/w.bin"


def test_fresh_download_checks_sha256(server, tmp_path):
    dest = fetch(server, str(tmp_path / "w.bin"), DIGEST)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "w.bin.part").exists()


def test_resume_with_range(server, tmp_path):
    (tmp_path / "w.bin.part").write_bytes(PAYLOAD[:300_000])
    fetch(server, str(tmp_path / "w.bin"), DIGEST)
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD
    assert RangeHandler.log == ["bytes=300000-"]


def test_server_without_range_restarts(server, tmp_path):
    RangeHandler.honour_range = False
    (tmp_path / "w.bin.part").write_bytes(b"x" * 1000)  # junk that must not be kept
    fetch(server, str(tmp_path / "w.bin"), DIGEST)
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD


def test_complete_part_gets_416_and_is_accepted(server, tmp_path):
    (tmp_path / "w.bin.part").write_bytes(PAYLOAD)
    fetch(server, str(tmp_path / "w.bin"), DIGEST)
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD


def test_sha256_mismatch_is_detected_and_removed(server, tmp_path):
    with pytest.raises(ModelFileError, match="does not match"):
        fetch(server, str(tmp_path / "w.bin"), "0" * 64)
    assert not (tmp_path / "w.bin").exists() and not (tmp_path / "w.bin.part").exists()


def test_unknown_checksum_is_recorded_then_enforced(server, tmp_path):
    dest = fetch(server, str(tmp_path / "w.bin"))
    assert (tmp_path / "w.bin.sha256").read_text().split()[0] == DIGEST
    dest.write_bytes(PAYLOAD[:-1] + b"\x00")  # the file changes on disk later
    with pytest.raises(ModelFileError, match="does not match"):
        fetch(server, str(dest))


def test_offline_fails_cleanly(tmp_path):
    with pytest.raises(UnavailableError, match="offline"):
        fetch(unreachable_url(), str(tmp_path / "w.bin"), timeout=2)


def test_cli_offline_is_one_line_with_exit_code(tmp_path, capsys):
    code = cli_main(["download", "--only", "moseg", "--dir", str(tmp_path), "--url", unreachable_url(),
                     "--timeout", "2", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == UnavailableError.exit_code
    assert err.startswith("motionseg-trt: error: cannot reach") and "\n" not in err
    assert "Traceback" not in err


def test_cli_downloads_into_the_registry_layout(server, tmp_path, capsys):
    code = cli_main(["download", "--only", "moseg", "--dir", str(tmp_path), "--url", server,
                     "--sha256", DIGEST, "--no-progress"])
    assert code == 0
    assert (tmp_path / "segany" / "moseg.pth").read_bytes() == PAYLOAD
    assert cli_main(["download", "--list", "--dir", str(tmp_path)]) == 0
    assert "present" in capsys.readouterr().out


def test_no_progress_bar_in_a_log(server, tmp_path, capsys):
    """stderr is not a terminal here (captured): no bar is drawn even without --no-progress."""
    code = cli_main(["download", "--only", "moseg", "--dir", str(tmp_path), "--url", server, "--sha256", DIGEST])
    assert code == 0
    err = capsys.readouterr().err
    assert err == "" and "\r" not in err


@pytest.mark.parametrize("argv, needle", [
    (["--only", "nope"], "unknown name"), (["--url", "http://x/y"], "exactly one --only"),
    (["--only", "moseg", "--sha256", "abc"], "64 hexadecimal digits"),
    (["--only", "moseg", "--timeout", "nan"], "positive number"),
    (["--only", "moseg", "--timeout", "-1"], "positive number"),
])
def test_usage_errors_are_exit_2_in_one_line(tmp_path, capsys, argv, needle):
    assert cli_main(["download", "--dir", str(tmp_path / "w"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "w").exists()


def test_a_weights_folder_that_is_a_file_is_exit_4(tmp_path, capsys):
    (tmp_path / "f").write_text("a file")
    assert cli_main(["download", "--only", "moseg", "--dir", str(tmp_path / "f")]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder" in err[0]
