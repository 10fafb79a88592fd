"""support.processes: what every server of the tests (and of bench/run) is
started, waited for and stopped with."""

import os
import signal

import pytest

from support.processes import Process, wait_until


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
    server.launch(["sleep", "60"], tmp_path / "sleep.log", lambda: True, 5, "sleeper")
    pid = server.process.pid
    assert server.stop() == -signal.SIGINT
    assert not alive(pid)
    assert server.stop() == 0, "nothing left to stop"


def test_wait_until_asks_at_least_once_and_returns_the_answer():
    assert wait_until(lambda: "ready", 0, "anything") == "ready"
    with pytest.raises(TimeoutError):
        wait_until(lambda: None, 0, "nothing")
