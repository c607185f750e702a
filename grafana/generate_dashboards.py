#!/usr/bin/env python3
"""Writes grafana/dashboards/*.json. Edit here, run `python3 grafana/generate_dashboards.py`,
commit both. Every panel uses the `datasource` variable; `lab` selects the lab and `host` the
machines of a lab spread over several (all of them by default)."""

import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
L = 'lab="$lab",host=~"$host"'
LN = L + ',node=~"$node"'
LNL = LN + ',link=~"$link"'


def var_datasource():
    return {"name": "datasource", "label": "Data source", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1,
            "regex": "", "options": []}


def var_query(name, label, query, multi=False):
    v = {"name": name, "label": label, "type": "query", "datasource": DS,
         "query": {"query": query, "refId": f"{name}-var"}, "definition": query,
         "refresh": 2, "sort": 1, "current": {}, "hide": 0, "options": [],
         "includeAll": multi, "multi": multi}
    if multi:
        v["allValue"] = ".*"
        v["current"] = {"text": "All", "value": "$__all"}
    return v


def var_lab():
    return var_query("lab", "Lab", "label_values(umlvnf_build_info, lab)")


def var_host():
    return var_query("host", "Host", 'label_values(umlvnf_build_info{lab="$lab"}, host)', True)


def var_node():
    return var_query("node", "Node", "label_values(umlvnf_guest_up{%s}, node)" % L, True)


def var_link():
    return var_query("link", "Link",
                     "label_values(umlvnf_datapath_packets_total{%s}, link)" % L, True)


def target(expr, legend="", ref="A", fmt=None):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref,
         "range": True}
    if fmt:
        t["format"] = fmt
    return t


def panel(kind, title, targets, unit="short", w=12, h=8, desc="", tx_below=False,
          options=None):
    p = {"type": kind, "title": title, "description": desc, "datasource": DS,
         "targets": [target(*t) if isinstance(t, tuple) else target(t) for t in targets],
         "gridPos": {"w": w, "h": h},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "options": options or {}}
    for i, t in enumerate(p["targets"]):
        t["refId"] = chr(ord("A") + i)
    if kind == "timeseries":
        p["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1,
                                                  "fillOpacity": 10, "showPoints": "never"}
        p["options"] = {"legend": {"displayMode": "table", "placement": "bottom",
                                   "calcs": ["mean", "max", "lastNotNull"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    if tx_below:
        # Transmit below the axis: series whose name ends in "tx" are drawn negated.
        p["fieldConfig"]["overrides"].append({
            "matcher": {"id": "byRegexp", "options": "/.*\\btx$/"},
            "properties": [{"id": "custom.transform", "value": "negative-Y"}]})
        p["description"] = (desc + " " if desc else "") + \
            "Receive is drawn above the axis, transmit below it."
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": [],
            "gridPos": {"w": 24, "h": 1}}


def layout(panels):
    x = y = 0
    line_h = 0
    for i, p in enumerate(panels):
        p["id"] = i + 1
        g = p["gridPos"]
        if p["type"] == "row" or x + g["w"] > 24:
            x, y = 0, y + line_h
            line_h = 0
        g["x"], g["y"] = x, y
        x += g["w"]
        line_h = max(line_h, g["h"])
        if p["type"] == "row":
            x, y, line_h = 0, y + 1, 0
    return panels


def dashboard(uid, title, desc, variables, panels):
    return {
        "uid": uid, "title": title, "description": desc, "tags": ["umlvnf"],
        "editable": True, "schemaVersion": 39, "version": 1, "timezone": "browser",
        "refresh": "5s", "time": {"from": "now-15m", "to": "now"},
        "graphTooltip": 1,
        "links": [{"type": "dashboards", "tags": ["umlvnf"], "asDropdown": True,
                   "title": "umlvnf dashboards", "includeVars": True, "keepTime": True}],
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": layout(panels),
    }


def by(labels, expr):
    return f"sum by ({labels}) ({expr})"


def rate(series, sel):
    return f"rate({series}{{{sel}}}[{RI}])"


overview = dashboard(
    "umlvnf-overview", "umlvnf / Lab overview",
    "Health and traffic of one umlvnf lab at a glance.",
    [var_datasource(), var_lab(), var_host()],
    [
        panel("stat", "Guests up", [f"sum(umlvnf_guest_up{{{L}}})"], w=4, h=4),
        panel("stat", "Guests down", [f"count(umlvnf_guest_up{{{L}}} == 0) or vector(0)"],
              w=4, h=4),
        panel("stat", "Guest restarts", [f"sum(umlvnf_guest_restarts_total{{{L}}})"], w=4, h=4),
        panel("stat", "Oldest guest statistics",
              [f"max(umlvnf_guest_stats_age_seconds{{{L}}})"], unit="s", w=4, h=4,
              desc="Age of the statistics read from inside the guests; the stated maximum "
                   "is umlvnf_guest_stats_max_age_seconds."),
        panel("stat", "Last scrape took", [f"umlvnf_scrape_duration_seconds{{{L}}}"],
              unit="s", w=4, h=4),
        panel("stat", "Version", [(f"umlvnf_build_info{{{L}}}", "{{version}}")], w=4, h=4,
              options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "/^version$/"},
                       "textMode": "name"}),
        panel("timeseries", "Guest interface packets/s by node",
              [(by("node, direction", rate("umlvnf_guest_interface_packets_total", L)),
                "{{node}} {{direction}}")], unit="pps", tx_below=True),
        panel("timeseries", "Datapath packets/s by link",
              [(by("link, queue", rate("umlvnf_datapath_packets_total", L)),
                "{{link}} {{queue}}")], unit="pps", tx_below=True),
        panel("timeseries", "Drops/s by reason",
              [(by("reason", rate("umlvnf_datapath_drops_total", L)), "datapath {{reason}}"),
               (f'sum({rate("umlvnf_guest_interface_drops_total", L)})', "guest kernels"),
               (f'sum({rate("umlvnf_host_interface_drops_total", L)})', "host interfaces")],
              unit="pps"),
        panel("timeseries", "Guest CPU",
              [(by("node", rate("umlvnf_guest_cpu_seconds_total", L)), "{{node}}")],
              unit="percentunit"),
        panel("timeseries", "Collector errors/s",
              [(by("collector", rate("umlvnf_collector_errors_total", L)), "{{collector}}")],
              unit="short"),
        panel("timeseries", "Guest memory (RSS)",
              [(f"umlvnf_guest_memory_rss_bytes{{{L}}}", "{{node}}")], unit="bytes"),
    ])

links = dashboard(
    "umlvnf-links", "umlvnf / Links",
    "Packets and bits per second of every node interface; transmit below the axis.",
    [var_datasource(), var_lab(), var_host(), var_node()],
    [
        row("Seen by the guest kernels (/proc/net/dev)"),
        panel("timeseries", "Guest interface packets/s",
              [(by("node, interface, direction",
                   rate("umlvnf_guest_interface_packets_total", LN)),
                "{{node}}:{{interface}} {{direction}}")], unit="pps", tx_below=True),
        panel("timeseries", "Guest interface bits/s",
              [("8 * " + by("node, interface, direction",
                            rate("umlvnf_guest_interface_bytes_total", LN)),
                "{{node}}:{{interface}} {{direction}}")], unit="bps", tx_below=True),
        row("Host-side interfaces (veth, tap; netlink)"),
        panel("timeseries", "Host interface packets/s",
              [(by("node, interface, ifname, direction",
                   rate("umlvnf_host_interface_packets_total", LN)),
                "{{node}}:{{interface}} ({{ifname}}) {{direction}}")], unit="pps",
              tx_below=True,
              desc="Direction as seen by the host-side interface: its rx is what the node sent."),
        panel("timeseries", "Host interface bits/s",
              [("8 * " + by("node, interface, ifname, direction",
                            rate("umlvnf_host_interface_bytes_total", LN)),
                "{{node}}:{{interface}} ({{ifname}}) {{direction}}")], unit="bps",
              tx_below=True),
        row("umlvnf datapath"),
        panel("timeseries", "Datapath packets/s per link",
              [(by("link, node, interface, queue", rate("umlvnf_datapath_packets_total", LN)),
                "{{link}} {{node}}:{{interface}} {{queue}}")], unit="pps", tx_below=True),
        panel("timeseries", "Datapath bits/s per link",
              [("8 * " + by("link, node, interface, queue",
                            rate("umlvnf_datapath_bytes_total", LN)),
                "{{link}} {{node}}:{{interface}} {{queue}}")], unit="bps", tx_below=True),
        row("Errors"),
        panel("timeseries", "Interface errors/s",
              [(by("node, interface, direction", rate("umlvnf_guest_interface_errors_total", LN)),
                "guest {{node}}:{{interface}} {{direction}}"),
               (by("node, interface, direction", rate("umlvnf_host_interface_errors_total", LN)),
                "host {{node}}:{{interface}} {{direction}}")], unit="pps", tx_below=True),
        panel("stat", "Host interfaces up",
              [(f"umlvnf_host_interface_up{{{LN}}}", "{{ifname}}")], w=6),
        panel("stat", "Host interface MTU",
              [(f"umlvnf_host_interface_mtu_bytes{{{LN}}}", "{{ifname}}")], unit="bytes", w=6),
    ])

qsel_bucket = rate("umlvnf_datapath_batch_size_bucket", LNL)
queues = dashboard(
    "umlvnf-queues", "umlvnf / Queues",
    "Per-queue detail: umlvnf's datapath queues and the UML vector driver's queues.",
    [var_datasource(), var_lab(), var_host(), var_node(), var_link()],
    [
        row("umlvnf datapath queues"),
        panel("timeseries", "Packets/s per queue",
              [(by("link, node, interface, queue", rate("umlvnf_datapath_packets_total", LNL)),
                "{{link}} {{node}}:{{interface}} {{queue}}")], unit="pps", tx_below=True),
        panel("timeseries", "System calls/s per queue",
              [(by("link, node, interface, queue", rate("umlvnf_datapath_syscalls_total", LNL)),
                "{{link}} {{node}}:{{interface}} {{queue}}")], unit="ops"),
        panel("timeseries", "Packets per system call",
              [(by("link, node, interface, queue", rate("umlvnf_datapath_packets_total", LNL))
                + " / " +
                by("link, node, interface, queue", rate("umlvnf_datapath_syscalls_total", LNL)),
                "{{link}} {{node}}:{{interface}} {{queue}}")]),
        panel("timeseries", "Batch size p50 / p99",
              [(f"histogram_quantile(0.5, {by('le, link, queue', qsel_bucket)})",
                "p50 {{link}} {{queue}}"),
               (f"histogram_quantile(0.99, {by('le, link, queue', qsel_bucket)})",
                "p99 {{link}} {{queue}}")]),
        panel("timeseries", "Mean batch size",
              [(by("link, queue", rate("umlvnf_datapath_batch_size_sum", LNL)) + " / " +
                by("link, queue", rate("umlvnf_datapath_batch_size_count", LNL)),
                "{{link}} {{queue}}")]),
        panel("heatmap", "Batch size distribution",
              [(by("le", qsel_bucket), "{{le}}", "A", "heatmap")],
              options={"calculate": False, "yAxis": {"unit": "short"},
                       "cellGap": 1, "color": {"scheme": "Oranges", "mode": "scheme"}}),
        panel("timeseries", "Frames in the delay queue",
              [(f"umlvnf_datapath_queued{{{LNL}}}", "{{link}} to {{node}}:{{interface}}")],
              w=24, h=6,
              desc="Frames an impairment (delay, jitter, rate) holds until they are due, by "
                   "the queue that will send them. Per direction: received + duplicated = "
                   "sent + drops + queued."),
        row("UML vector driver (ethtool -S inside the guest)"),
        panel("timeseries", "Vector queue depth: max and running average",
              [(f"umlvnf_guest_vector_queue_max{{{LN}}}",
                "max {{node}}:{{interface}} {{direction}}"),
               (f"umlvnf_guest_vector_queue_running_average{{{LN}}}",
                "avg {{node}}:{{interface}} {{direction}}")]),
        panel("timeseries", "Transmit kicks and queue restarts /s",
              [(by("node, interface", rate("umlvnf_guest_vector_tx_kicks_total", LN)),
                "kicks {{node}}:{{interface}}"),
               (by("node, interface", rate("umlvnf_guest_vector_tx_queue_restarts_total", LN)),
                "restarts {{node}}:{{interface}}"),
               (by("node, interface", rate("umlvnf_guest_vector_tx_timeouts_total", LN)),
                "timeouts {{node}}:{{interface}}")], unit="ops"),
        panel("timeseries", "Scatter-gather /s",
              [(by("node, interface", rate("umlvnf_guest_vector_sg_ok_total", LN)),
                "ok {{node}}:{{interface}}"),
               (by("node, interface", rate("umlvnf_guest_vector_sg_linearized_total", LN)),
                "linearized {{node}}:{{interface}}")], unit="pps"),
        panel("timeseries", "Flow control and checksum offload /s",
              [(by("node, interface", rate("umlvnf_guest_vector_tx_flow_control_xon_total", LN)),
                "xon {{node}}:{{interface}}"),
               (by("node, interface", rate("umlvnf_guest_vector_tx_flow_control_xoff_total", LN)),
                "xoff {{node}}:{{interface}}"),
               (by("node, interface", rate("umlvnf_guest_vector_rx_csum_offload_good_total", LN)),
                "csum good {{node}}:{{interface}}"),
               (by("node, interface",
                   rate("umlvnf_guest_vector_rx_csum_offload_errors_total", LN)),
                "csum bad {{node}}:{{interface}}")], unit="pps"),
    ])

drops = dashboard(
    "umlvnf-drops", "umlvnf / Drops",
    "Where packets are lost: umlvnf's datapath by reason, guest kernels, vector driver, host.",
    [var_datasource(), var_lab(), var_host(), var_node()],
    [
        panel("timeseries", "Datapath drops/s by reason",
              [(by("reason", rate("umlvnf_datapath_drops_total", LN)), "{{reason}}")],
              unit="pps"),
        panel("timeseries", "Datapath drops/s by queue and reason",
              [(by("link, node, interface, queue, reason", rate("umlvnf_datapath_drops_total", LN)),
                "{{link}} {{node}}:{{interface}} {{queue}} {{reason}}")], unit="pps"),
        panel("timeseries", "Datapath drop ratio per queue",
              [(by("link, queue", rate("umlvnf_datapath_drops_total", LN)) + " / on (link, queue) "
                + by("link, queue", rate("umlvnf_datapath_packets_total", LN)),
                "{{link}} {{queue}}")], unit="percentunit"),
        panel("timeseries", "Guest kernel drops/s",
              [(by("node, interface, direction", rate("umlvnf_guest_interface_drops_total", LN)),
                "{{node}}:{{interface}} {{direction}}")], unit="pps", tx_below=True),
        panel("timeseries", "Vector driver encapsulation errors/s",
              [(by("node, interface", rate("umlvnf_guest_vector_encaps_errors_total", LN)),
                "{{node}}:{{interface}}")], unit="pps"),
        panel("timeseries", "Host interface drops/s",
              [(by("node, interface, ifname, direction",
                   rate("umlvnf_host_interface_drops_total", LN)),
                "{{node}}:{{interface}} ({{ifname}}) {{direction}}")], unit="pps",
              tx_below=True),
    ])

guests = dashboard(
    "umlvnf-guests", "umlvnf / Guest resources",
    "CPU, memory, restarts and boot time of every UML guest (its host process group).",
    [var_datasource(), var_lab(), var_host(), var_node()],
    [
        panel("timeseries", "CPU (cores)",
              [(by("node", rate("umlvnf_guest_cpu_seconds_total", LN)), "{{node}}")],
              unit="percentunit"),
        panel("timeseries", "Memory (RSS)",
              [(f"umlvnf_guest_memory_rss_bytes{{{LN}}}", "{{node}}")], unit="bytes"),
        panel("timeseries", "Up", [(f"umlvnf_guest_up{{{LN}}}", "{{node}}")], w=8),
        panel("timeseries", "Restarts", [(f"umlvnf_guest_restarts_total{{{LN}}}", "{{node}}")],
              w=8),
        panel("timeseries", "Host processes",
              [(f"umlvnf_guest_processes{{{LN}}}", "{{node}}")], w=8),
        panel("bargauge", "Boot duration",
              [(f"umlvnf_guest_boot_duration_seconds{{{LN}}}", "{{node}}")], unit="s"),
        panel("timeseries", "Age of guest statistics",
              [(f"umlvnf_guest_stats_age_seconds{{{LN}}}", "{{node}}"),
               (f"umlvnf_guest_stats_max_age_seconds{{{L}}}", "stated maximum"),
               (f"umlvnf_guest_stats_ok{{{LN}}}", "read ok {{node}}")], unit="s"),
    ])

here = os.path.dirname(os.path.abspath(__file__))
for name, d in [("overview", overview), ("links", links), ("queues", queues),
                ("drops", drops), ("guests", guests)]:
    with open(os.path.join(here, "dashboards", f"umlvnf-{name}.json"), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
