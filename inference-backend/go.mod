module github.com/secureai-nexus/nexus/inference-backend

go 1.26.8
