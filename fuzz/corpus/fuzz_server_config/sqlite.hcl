storage "sqlite" {
  path = "/var/lib/coffer/coffer.db"
}
listener "tcp" {
  address = "127.0.0.1:18277"
  tls_disable = true
  max_request_size = 2048
  x_forwarded_for_authorized_addrs = ["127.0.0.1/32"]
  telemetry {
    unauthenticated_metrics_access = true
  }
}
cluster_name = "blue"
log_level = "debug"
telemetry {
  prometheus_retention_time = "30s"
  disable_hostname = true
}
ui = true
disable_mlock = true
