"""nginx + Nchan (Debian ``nginx`` + ``libnginx-mod-nchan``): the C reference.

One worker, ``daemon off``, config/pid/logs in a temp dir; WebSocket subscriber at ``/sub``,
HTTP publisher at ``/pub`` on the same channel. Nchan's defaults otherwise (it keeps a small
message buffer per channel, as it would in production).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx

from bench.peers.base import Peer, post_ok
from bench.util import Proc, free_port, wait_port

MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/share/nginx/modules")


def nginx_binary() -> str:
    exe = shutil.which("nginx")
    if exe is None and os.path.exists("/usr/sbin/nginx"):
        exe = "/usr/sbin/nginx"
    if exe is None:
        raise RuntimeError("nginx not found (make services installs nginx + libnginx-mod-nchan)")
    return exe


def nchan_module() -> str:
    for d in MODULE_DIRS:
        p = Path(d) / "ngx_nchan_module.so"
        if p.exists():
            return str(p)
    conf = Path("/usr/share/nginx/modules-available/mod-nchan.conf")
    if conf.exists():
        for line in conf.read_text().splitlines():
            if "ngx_nchan_module.so" in line:
                rel = line.split()[1].rstrip(";")
                for base in ("/usr/lib/nginx", "/usr/share/nginx"):
                    if (Path(base) / rel).exists():
                        return str(Path(base) / rel)
    raise RuntimeError("ngx_nchan_module.so not found (apt-get install libnginx-mod-nchan)")


def nginx_conf(tmp: Path, server_block: str, load_nchan: bool) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    load = f"load_module {nchan_module()};\n" if load_nchan else ""
    temps = "\n".join(
        f"  {k}_temp_path {tmp}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{load}{user}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 30000; }}
http {{
  access_log off;
{temps}
  default_type application/octet-stream;
  types {{ text/html html; }}
{server_block}
}}
"""


def start_nginx(tmp: Path, server_block: str, load_nchan: bool) -> Proc:
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(nginx_conf(tmp, server_block, load_nchan))
    return Proc(
        "nginx",
        [nginx_binary(), "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
        log=tmp / "nginx.out",
    ).start()


class Nchan(Peer):
    name = "nchan"

    async def start(self) -> None:
        self.port = free_port()
        block = f"""  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location = /sub {{ nchan_subscriber websocket; nchan_channel_id bench; }}
    location = /pub {{ nchan_publisher; nchan_channel_id bench; }}
  }}"""
        p = start_nginx(self.tmp / "nginx", block, load_nchan=True)
        self.procs.append(p)
        try:
            await wait_port(self.port, p.popen)
        except Exception as e:
            raise RuntimeError(f"{e}\n{(self.tmp / 'nginx' / 'error.log').read_text()}") from e
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}")

    def targets(self) -> list[dict[str, object]]:
        return [{"host": "127.0.0.1", "port": self.port, "path": "/sub"}]

    async def publish(self, seq: int, payload: str) -> None:
        assert self.http is not None
        await post_ok(
            self.http, "/pub", content=payload.encode(), headers={"Content-Type": "text/plain"}
        )

    def logs(self) -> str:
        log = self.tmp / "nginx" / "error.log"
        return log.read_text()[-3000:] if log.exists() else ""
