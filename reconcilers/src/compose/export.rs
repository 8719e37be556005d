//! Desired state to docker-compose files.
