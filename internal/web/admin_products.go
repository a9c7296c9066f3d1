package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// productForm is the product form's state, shared by both pages that show it.
type productForm struct {
	Form  shop.ProductInput
	Error string
	// Field is the input the error is about.
	Field string
	// Action is where the form posts; Submit, its button.
	Action, Submit string
}

type productsPage struct {
	productForm
	Products []shop.Product
}

type productPage struct {
	productForm
	Product shop.Product
}

func newProductForm(form shop.ProductInput, id int64, err *billing.InvalidError) productForm {
	f := productForm{Form: form, Action: "/admin/products", Submit: "Add product"}
	if id != 0 {
		f.Action, f.Submit = "/admin/products/"+strconv.FormatInt(id, 10), "Save"
	}
	if err != nil {
		f.Error, f.Field = err.Message, err.Field
	}
	return f
}

// adminProducts is the catalog, with the form that adds a product.
func (s *Server) adminProducts(w http.ResponseWriter, r *http.Request) error {
	return s.renderProducts(w, r, http.StatusOK, productsPage{productForm: newProductForm(shop.ProductInput{Currency: s.svc.Currency()}, 0, nil)})
}

func (s *Server) renderProducts(w http.ResponseWriter, r *http.Request, status int, p productsPage) error {
	var err error
	if p.Products, err = s.shop.Products(r.Context(), false); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, status, "admin_products", p)
}

func postedProduct(r *http.Request) shop.ProductInput {
	return shop.ProductInput{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"),
		Price: r.PostFormValue("price"), Currency: r.PostFormValue("currency")}
}

func (s *Server) adminCreateProduct(w http.ResponseWriter, r *http.Request) error {
	form := postedProduct(r)
	p, err := s.shop.CreateProduct(r.Context(), form)
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		return s.renderProducts(w, r, http.StatusBadRequest, productsPage{productForm: newProductForm(form, 0, invalid)})
	}
	if err != nil {
		return err
	}
	return s.done(w, r, "/admin/products", said(p.Name+" is added, at "+p.Price.Display()+"."))
}

func (s *Server) adminProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	p, err := s.shop.Product(r.Context(), id)
	if err != nil {
		return err
	}
	form := shop.ProductInput{Name: p.Name, Description: p.Description, Price: p.Price.Decimal(), Currency: p.Price.Currency}
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "admin_product", productPage{Product: p, productForm: newProductForm(form, id, nil)})
}

func (s *Server) adminUpdateProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	form := postedProduct(r)
	saved, err := s.shop.UpdateProduct(r.Context(), id, form)
	var invalid *billing.InvalidError
	if errors.As(err, &invalid) {
		p, perr := s.shop.Product(r.Context(), id)
		if perr != nil {
			return perr
		}
		return s.render(w, r, http.StatusBadRequest, "admin_product", productPage{Product: p, productForm: newProductForm(form, id, invalid)})
	}
	if err != nil {
		return err
	}
	return s.done(w, r, "/admin/products", said(saved.Name+" is saved."))
}

// adminProductStatus archives a product or puts it back on sale.
func (s *Server) adminProductStatus(status shop.ProductStatus) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := idParam(r)
		if err != nil {
			return err
		}
		p, err := s.shop.SetProductStatus(r.Context(), id, status)
		if err != nil {
			return err
		}
		message := p.Name + " is back on sale."
		if status == shop.ProductArchived {
			message = p.Name + " is archived: it is no longer for sale; orders already placed keep it."
		}
		return s.done(w, r, "/admin/products#product-"+strconv.FormatInt(id, 10), said(message))
	}
}
