"""support.processes: what every server of the tests (and of bench/run) is
started, waited for and stopped with."""

import os
import signal
import sys

import pytest

from support.processes import Listener, Process, free_port, port_open, wait_until


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_that_never_gets_ready_is_stopped(tmp_path):
    server, pids = Process(), []

    def never_ready() -> bool:
        pids.append(server.process.pid)
        return False

    with pytest.raises(TimeoutError, match="sleeper: not ready after 0.3 s"):
        server.launch(["sleep", "60"], tmp_path / "sleep.log", never_ready, 0.3, "sleeper")
    assert pids and not alive(pids[0]), "the process that never got ready was left running"
    assert server.process is None


def test_stop_returns_the_exit_code_once(tmp_path):
    server = Process()
    server.stop_signal = signal.SIGINT
    # It takes SIGINT's default itself, then says so: a shell that started
    # the tests in the background (`cmd &`) leaves SIGINT ignored in every
    # child (sleep too).
    sleeper = (
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); print('ready', flush=True); time.sleep(60)"
    )
    log = tmp_path / "sleep.log"
    server.launch([sys.executable, "-c", sleeper], log, lambda: "ready" in log.read_text(), 5, "sleeper")
    pid = server.process.pid
    assert server.stop() == -signal.SIGINT
    assert not alive(pid)
    assert server.stop() == 0, "nothing left to stop"


def test_wait_until_asks_at_least_once_and_returns_the_answer():
    assert wait_until(lambda: "ready", 0, "anything") == "ready"
    with pytest.raises(TimeoutError):
        wait_until(lambda: None, 0, "nothing")


def test_a_listener_is_ready_once_its_port_listens_and_stops_by_its_pid(tmp_path):
    port = free_port()
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    server = Listener(command, tmp_path / "http.log", "127.0.0.1", port, cwd=tmp_path).start(timeout=30)
    assert server.address == f"127.0.0.1:{port}" and port_open("127.0.0.1", port)
    server.stop()
    assert not port_open("127.0.0.1", port)
    silent = Listener(["sleep", "60"], tmp_path / "sleep.log", "127.0.0.1", free_port())
    with pytest.raises(TimeoutError, match="sleep: not ready after 0.3 s"):
        silent.start(timeout=0.3)
    assert silent.process is None
