module github.com/secureai-nexus/nexus/filters

go 1.26.8
