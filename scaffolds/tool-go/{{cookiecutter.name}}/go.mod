module github.com/sfn-agents/sfn-agents/functions/tools/{{ cookiecutter.name }}

go 1.24

require github.com/aws/aws-lambda-go v1.54.0
