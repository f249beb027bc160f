module github.com/wampkit/wampkit/integration

go 1.26.8
