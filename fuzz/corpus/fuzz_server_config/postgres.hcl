storage "postgres" {
  connection_url = "postgres://u:p@127.0.0.1:5432/db?sslmode=disable"
  schema = "coffer"
  max_connections = 8
}
listener "tcp" {
  address = "0.0.0.0:8200"
  tls_cert_file = "c.pem"
  tls_key_file = "k.pem"
  x_forwarded_for_authorized_addrs = "10.0.0.0/8, 192.168.0.1"
}
default_lease_ttl = "1h"
max_lease_ttl = 86400
