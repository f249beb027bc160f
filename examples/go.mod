module github.com/wampkit/wampkit/examples

go 1.26.8
