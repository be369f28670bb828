# Two agents, one application per region with for_each: each region's application
# runs on its own agent (l4_application.regional["eu"], l4_application.regional["us"]).

variable "agent_a_endpoint" {
  type    = string
  default = "http://127.0.0.1:7701"
}

variable "agent_b_endpoint" {
  type    = string
  default = "http://127.0.0.1:7702"
}

variable "regions" {
  type = map(object({
    edge_port   = string
    origin      = string
    origin_port = string
  }))
  default = {
    eu = { edge_port = "18501", origin = "127.0.0.1", origin_port = "18601" }
    us = { edge_port = "18502", origin = "127.0.0.1", origin_port = "18602" }
  }
}

locals {
  # the agent that serves each region
  region_agent = {
    eu = agent.a
    us = agent.b
  }
}

agent "a" {
  endpoint    = var.agent_a_endpoint
  public_ipv4 = "127.0.0.1"
}

agent "b" {
  endpoint    = var.agent_b_endpoint
  public_ipv4 = "127.0.0.1"
}

resource "l4_site" "main" {
  name   = "example.com"
  plan   = "enterprise"
  agents = [agent.a, agent.b]
}

resource "l4_application" "regional" {
  for_each = var.regions

  site   = l4_site.main.id
  domain = each.key # eu.example.com, us.example.com
  agents = [local.region_agent[each.key]]

  rule {
    protocol    = "tcp"
    edge_port   = each.value.edge_port
    origin_type = "ip"
    origin      = each.value.origin
    origin_port = each.value.origin_port
    comment     = "region ${each.key}"
  }
}

output "regional_domains" {
  value = [for app in l4_application.regional : app.id]
}
