"""Toxiproxy clients, unchanged, against stressor's proxy API. Exits non-zero on any mismatch."""
import sys
import time

import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from chaostoxi.proxy import actions as proxy_actions, probes as proxy_probes
from chaostoxi.toxic import actions as toxic_actions

api, server = sys.argv[1], sys.argv[2]
api_host, api_port = api.split(":")
server_host, server_port = server.split(":")
checks = 0


def check(condition, what):
    global checks
    checks += 1
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        sys.exit(1)


def ready_ms(listen):
    start = time.perf_counter()
    response = requests.get(f"http://{listen}/v2/health/ready", timeout=5)
    return response.status_code, (time.perf_counter() - start) * 1000


# --- toxiproxy-python (the Python client library) ---
APIConsumer.host, APIConsumer.port = api_host, int(api_port)
toxiproxy = Toxiproxy()
check(toxiproxy.running(), "toxiproxy-python: server is running")
check(b"version" in toxiproxy.version(), "toxiproxy-python: /version")
proxy = toxiproxy.create(upstream=server, name="model", listen="127.0.0.1:0")
check(proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0"), f"create -> listen {proxy.listen}")
status, base = ready_ms(proxy.listen)
check(status == 200, f"passthrough 200 in {base:.1f} ms")
proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 0})
check("latency_downstream" in proxy.toxics(), "add_toxic latency -> latency_downstream")
status, slow = ready_ms(proxy.listen)
check(status == 200 and 95 <= slow <= 400, f"latency 100 ms toxic: request took {slow:.1f} ms")
proxy.destroy_toxic("latency_downstream")
check(proxy.toxics() == {}, "destroy_toxic")
proxy.disable()
try:
    requests.get(f"http://{proxy.listen}/v2/health/ready", timeout=2)
    refused = False
except requests.exceptions.ConnectionError:
    refused = True
check(refused, "disable: connections refused")
proxy.enable()
check(ready_ms(proxy.listen)[0] == 200, "enable: same port serves again")
populated = toxiproxy.populate([{"name": "model2", "upstream": server, "listen": "127.0.0.1:0"}])
check(len(populated) == 1 and "model2" in toxiproxy.proxies(), "populate")
toxiproxy.reset()
check(all(p.enabled for p in toxiproxy.proxies().values()), "reset")

# --- chaostoolkit-toxiproxy (actions and probes as an experiment calls them) ---
configuration = {"toxiproxy_host": api_host, "toxiproxy_port": int(api_port)}
check(
    proxy_actions.create_proxy("chaos", server_host, int(server_port), configuration=configuration),
    "chaostoolkit create_proxy (listen 0.0.0.0:0 kept on loopback)",
)
listen = proxy_probes.get_proxy_attribute("chaos", "listen", configuration=configuration)
check(listen.startswith("127.0.0.1:"), f"chaostoolkit get_proxy_attribute listen = {listen}")
check(proxy_probes.proxy_exist("chaos", configuration=configuration), "chaostoolkit proxy_exist")
toxic_actions.create_latency_toxic("chaos", "slow", 150, configuration=configuration)
status, slow = ready_ms(listen)
check(status == 200 and 145 <= slow <= 500, f"chaostoolkit create_latency_toxic 150 ms: {slow:.1f} ms")
check(toxic_actions.delete_toxic("chaos", "slow", configuration=configuration), "chaostoolkit delete_toxic")
toxic_actions.create_timeout_toxic("chaos", "cut", 200, configuration=configuration)
try:
    requests.get(f"http://{listen}/v2/health/ready", timeout=3)
    cut = False
except requests.exceptions.ConnectionError:
    cut = True
check(cut, "chaostoolkit create_timeout_toxic: connection closed")
toxic_actions.delete_toxic("chaos", "cut", configuration=configuration)
# stressor's HTTP faults through the same generic action.
toxic_actions.create_toxic(
    "chaos", "unavailable", "http_status", attributes={"status": 503}, configuration=configuration
)
check(requests.get(f"http://{listen}/v2/health/ready", timeout=2).status_code == 503, "create_toxic http_status 503")
proxy_actions.reset(configuration=configuration)
proxy_actions.disable_proxy("chaos", configuration=configuration)
check(proxy_probes.get_proxy_attribute("chaos", "enabled", configuration=configuration) is False, "chaostoolkit disable_proxy")
proxy_actions.enable_proxy("chaos", configuration=configuration)
check(ready_ms(listen)[0] == 200, "chaostoolkit enable_proxy")
proxy_actions.delete_proxy("chaos", configuration=configuration)
check(not proxy_probes.proxy_exist("chaos", configuration=configuration), "chaostoolkit delete_proxy")
metrics = requests.get(f"http://{api}/metrics", timeout=2).text
check("stressor_proxy_faults_total" in metrics, "/metrics")
print(f"{checks} checks passed")
