# A game server: a TCP lobby with PROXY protocol v2, a UDP port range mapped
# one-to-one onto the origin's range (offset mapping) with Simple Proxy Protocol
# headers, voice ports forwarded to one origin port, and an IP allow list.

variable "agent_endpoint" {
  type    = string
  default = "http://127.0.0.1:7700"
}

variable "lobby_port" {
  type        = string
  default     = "19000"
  description = "TCP lobby port on the agent."
}

variable "origin_lobby_port" {
  type    = string
  default = "19100"
}

variable "game_ports" {
  type        = string
  default     = "19200-19209"
  description = "UDP game ports on the agent; the origin range must be as long."

  validation {
    condition     = length(var.game_ports) > 0
    error_message = "game_ports must not be empty."
  }
}

variable "origin_game_ports" {
  type    = string
  default = "19300-19309"
}

variable "voice_ports" {
  type    = string
  default = "19400,19401"
}

variable "origin_voice_port" {
  type    = string
  default = "19500"
}

locals {
  origin = "127.0.0.1"
}

agent "edge" {
  endpoint    = var.agent_endpoint
  public_ipv4 = "127.0.0.1"
  public_ipv6 = "::1"
}

resource "l4_site" "games" {
  name   = "games.example"
  plan   = "enterprise"
  agents = [agent.edge]

  ddos_protection {
    mode       = "full"
    expires_at = "2099-12-31T00:00:00Z"
  }
}

resource "l4_ip_access_rule" "players" {
  site     = l4_site.games.id
  priority = 10
  action   = "allow"
  sources  = ["127.0.0.0/8", "::1/128", "192.0.2.0/24"]
}

resource "l4_ip_access_rule" "everyone_else" {
  site     = l4_site.games.id
  priority = 100
  action   = "block"
  sources  = ["0.0.0.0/0", "::/0"]
}

resource "l4_application" "game" {
  site                  = l4_site.games.id
  domain                = "play.games.example"
  ipv6                  = true
  waf_ip_access_control = true
  keepalive_protection  = true

  rule {
    protocol              = "tcp"
    edge_port             = var.lobby_port
    origin_type           = "ip"
    origin                = local.origin
    origin_port           = var.origin_lobby_port
    client_ip_passthrough = "proxy_v2"
    comment               = "lobby"
  }

  rule {
    protocol              = "udp"
    edge_port             = var.game_ports
    origin_type           = "ip"
    origin                = local.origin
    origin_port           = var.origin_game_ports
    client_ip_passthrough = "spp"
    comment               = "game traffic, edge port N+i to origin port M+i"
  }

  rule {
    protocol              = "udp"
    edge_port             = var.voice_ports
    origin_type           = "ip"
    origin                = local.origin
    origin_port           = var.origin_voice_port
    client_ip_passthrough = "proxy_v2"
    comment               = "voice"
  }
}

output "game_endpoints" {
  value = l4_application.game.endpoints
}
