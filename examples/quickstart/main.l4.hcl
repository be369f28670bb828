# Quickstart: one TCP application on one loopback agent.
# Start an agent (l4plan-agent --control 127.0.0.1:7700 --state-dir DIR), then:
#   l4plan validate && l4plan plan && l4plan apply

variable "agent_endpoint" {
  type        = string
  default     = "http://127.0.0.1:7700"
  description = "Control API of the proxy-agent."
}

variable "edge_port" {
  type        = string
  default     = "18080"
  description = "Port the agent listens on."
}

variable "origin_address" {
  type    = string
  default = "127.0.0.1"
}

variable "origin_port" {
  type        = string
  default     = "18081"
  description = "Port of the origin server behind the proxy."
}

agent "local" {
  endpoint    = var.agent_endpoint
  public_ipv4 = "127.0.0.1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.local]
}

resource "l4_application" "hello" {
  site   = l4_site.main.id
  domain = "hello" # hello.example.com

  rule {
    protocol    = "tcp"
    edge_port   = var.edge_port
    origin_type = "ip"
    origin      = var.origin_address
    origin_port = var.origin_port
    comment     = "hello world"
  }
}

output "hello_endpoints" {
  value = l4_application.hello.endpoints
}
