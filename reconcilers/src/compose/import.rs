//! docker-compose files to desired state.
