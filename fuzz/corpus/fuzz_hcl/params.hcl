path "x" {
  allowed_parameters = { "*" = [] }
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = 3600
}
