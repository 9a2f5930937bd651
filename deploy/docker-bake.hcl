# Build each service's image on its own from the one recipe (deploy/Dockerfile), from the repo root:
#   docker buildx bake -f deploy/docker-bake.hcl membership      # one service
#   docker buildx bake -f deploy/docker-bake.hcl                 # every service
variable "REGISTRY" { default = "tollgate" }
variable "TAG" { default = "latest" }

group "default" {
  targets = ["webhook-gateway", "checkout", "membership", "ledger", "notifications"]
}

target "_app" {
  context    = "."
  dockerfile = "deploy/Dockerfile"
}

target "webhook-gateway" {
  inherits = ["_app"]
  args     = { APP_DIR = "services/webhook-gateway", PACKAGE = "tollgate-webhook-gateway", COMMAND = "webhook-gateway", PORT = "8001" }
  tags     = ["${REGISTRY}/webhook-gateway:${TAG}"]
}

target "checkout" {
  inherits = ["_app"]
  args     = { APP_DIR = "services/checkout", PACKAGE = "tollgate-checkout", COMMAND = "checkout", PORT = "8002" }
  tags     = ["${REGISTRY}/checkout:${TAG}"]
}

target "membership" {
  inherits = ["_app"]
  args     = { APP_DIR = "services/membership", PACKAGE = "tollgate-membership", COMMAND = "membership", PORT = "8003" }
  tags     = ["${REGISTRY}/membership:${TAG}"]
}

target "ledger" {
  inherits = ["_app"]
  args     = { APP_DIR = "services/ledger", PACKAGE = "tollgate-ledger", COMMAND = "ledger", PORT = "8004" }
  tags     = ["${REGISTRY}/ledger:${TAG}"]
}

target "notifications" {
  inherits = ["_app"]
  args     = { APP_DIR = "services/notifications", PACKAGE = "tollgate-notifications", COMMAND = "notifications", PORT = "8005" }
  tags     = ["${REGISTRY}/notifications:${TAG}"]
}
