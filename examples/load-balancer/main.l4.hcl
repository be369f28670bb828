# A TCP application whose origin is a pool of servers with active health checks.

variable "agent_endpoint" {
  type    = string
  default = "http://127.0.0.1:7700"
}

variable "edge_port" {
  type    = string
  default = "18443"
}

variable "origin_port" {
  type        = string
  default     = "18444"
  description = "Port every pool member listens on."
}

variable "members" {
  type        = list(string)
  default     = ["127.0.0.1", "127.0.0.2", "localhost"]
  description = "Pool members: addresses or hostnames."
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

resource "l4_load_balancer" "pool" {
  site     = l4_site.main.id
  domain   = "pool.example.com"
  steering = "weighted"

  origin {
    address = var.members[0]
    weight  = 3
  }
  origin {
    address = var.members[1]
    weight  = 1
  }
  origin {
    address = var.members[2]
    weight  = 1
  }

  health_check {
    interval  = "2s"
    timeout   = "1s"
    healthy   = 2
    unhealthy = 3
  }
}

resource "l4_application" "web" {
  site   = l4_site.main.id
  domain = "web"

  rule {
    protocol    = "tcp"
    edge_port   = var.edge_port
    origin_type = "load_balancer"
    origin      = l4_load_balancer.pool.id
    origin_port = var.origin_port
    comment     = "weighted pool, health-checked"
  }
}
