a = <<-EOT
  x
  EOT
b = [1, 2.5, true, {c = "\u00e9"}] # c
/* d */ r "x" "y" { z = -3 }
