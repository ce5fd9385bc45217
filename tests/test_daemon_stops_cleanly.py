"""A daemon told to stop (SIGTERM, as systemd does) while clients are connected ends its
clients' connections itself and says nothing but its stop: left to the loop's shutdown,
each client's task was cancelled and reported as a traceback in the daemon's log, which
read as a crash."""

from __future__ import annotations

import json
import signal
import socket

from tests.conftest import Lapse

SUBSCRIBE = json.dumps({"v": 2, "id": 1, "cmd": "subscribe"}).encode() + b"\n"


def test_a_stop_with_clients_connected_leaves_no_traceback(lapse: Lapse) -> None:
    daemon = lapse.start_daemon()
    assert lapse.cli("run", "--interval", "200ms").returncode == 0
    clients = []
    try:
        for number in range(40):
            client = socket.socket(socket.AF_UNIX)
            client.connect(str(lapse.socket))
            if number % 2:
                client.sendall(SUBSCRIBE)  # a subscriber that never reads
            clients.append(client)
        # Every client is being served once a later command is answered.
        assert lapse.client().status().run is not None
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
    finally:
        for client in clients:
            client.close()
    said = lapse.daemon_output()
    assert "stopping: releasing the outputs" in said
    assert "Traceback" not in said and "Exception in callback" not in said, said[-2000:]
