path "secret/data/*" {
  capabilities = ["create", "read"]
}
path "secret/+/config" { capabilities = ["deny"] }
