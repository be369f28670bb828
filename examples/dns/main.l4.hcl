# DNS publishing: the quickstart application, with its A record published to the
# zone's authoritative DNS server by TSIG-signed dynamic updates (docs/dns.md).
# Start an agent and a DNS server that accepts the key (README.md), then:
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

variable "dns_server" {
  type        = string
  default     = "127.0.0.1:5353"
  description = "HOST:PORT of the zone's authoritative DNS server."
}

variable "tsig_secret" {
  type        = string
  sensitive   = true
  default     = "bDRwbGFuLWRlbW8tdHNpZy1zZWNyZXQtMzJieXRlcyE="
  description = "The TSIG key's secret (base64); the default is the demo key of README.md, set L4PLAN_VAR_tsig_secret for a real server."
}

agent "local" {
  endpoint    = var.agent_endpoint
  public_ipv4 = "127.0.0.1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.local]

  dns {
    server   = var.dns_server
    tsig_key = { name = "l4plan", algorithm = "hmac-sha256", secret = var.tsig_secret }
    ttl      = 300
  }
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

output "hello_dns_records" {
  value = l4_application.hello.dns_records
}
